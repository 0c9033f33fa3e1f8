/** Tiny in-memory models for the model tests: configs and seeded random weights (own LCG, no src code). */
import type { HostTensor, WeightMap } from '../../../src/runtime/model/api.js';
import type { LlamaConfig } from '../../../src/model-spec/config.js';

export function tinyConfig(over: Partial<LlamaConfig> = {}): LlamaConfig {
  const base: LlamaConfig = {
    vocabSize: 23, hiddenSize: 16, intermediateSize: 24, numHiddenLayers: 2, numAttentionHeads: 4, numKeyValueHeads: 2,
    headDim: 4, maxPositionEmbeddings: 64, rmsNormEps: 1e-6, ropeTheta: 10000, ropeScaling: null, tieWordEmbeddings: false,
    attentionBias: false, bosTokenId: 1, eosTokenId: 2, eosTokenIds: [2], architecture: 'LlamaForCausalLM', modelType: 'llama',
  };
  const c = { ...base, ...over };
  if (over.hiddenSize || over.numAttentionHeads) c.headDim = over.headDim ?? c.hiddenSize / c.numAttentionHeads;
  return c;
}

/** A deterministic stream in [-1, 1). */
export function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2147483648 - 1;
  };
}

export function randomTensor(shape: number[], rnd: () => number, scale: number, offset = 0): HostTensor {
  const n = shape.reduce((a, b) => a * b, 1);
  const data = new Float32Array(n);
  for (let i = 0; i < n; i++) data[i] = offset + scale * rnd();
  return { shape, data };
}

/** Random weights for every tensor the config needs (norm weights near 1, the rest ~U(-0.4, 0.4)). */
export function randomWeights(c: LlamaConfig, seed = 1): WeightMap {
  const rnd = lcg(seed);
  const w: WeightMap = new Map();
  const E = c.hiddenSize, Q = c.numAttentionHeads * c.headDim, KV = c.numKeyValueHeads * c.headDim, F = c.intermediateSize;
  w.set('model.embed_tokens.weight', randomTensor([c.vocabSize, E], rnd, 0.8));
  for (let i = 0; i < c.numHiddenLayers; i++) {
    const p = `model.layers.${i}`;
    w.set(`${p}.input_layernorm.weight`, randomTensor([E], rnd, 0.2, 1));
    w.set(`${p}.post_attention_layernorm.weight`, randomTensor([E], rnd, 0.2, 1));
    w.set(`${p}.self_attn.q_proj.weight`, randomTensor([Q, E], rnd, 0.4));
    w.set(`${p}.self_attn.k_proj.weight`, randomTensor([KV, E], rnd, 0.4));
    w.set(`${p}.self_attn.v_proj.weight`, randomTensor([KV, E], rnd, 0.4));
    w.set(`${p}.self_attn.o_proj.weight`, randomTensor([E, Q], rnd, 0.4));
    if (c.attentionBias) {
      w.set(`${p}.self_attn.q_proj.bias`, randomTensor([Q], rnd, 0.3));
      w.set(`${p}.self_attn.k_proj.bias`, randomTensor([KV], rnd, 0.3));
      w.set(`${p}.self_attn.v_proj.bias`, randomTensor([KV], rnd, 0.3));
    }
    w.set(`${p}.mlp.gate_proj.weight`, randomTensor([F, E], rnd, 0.4));
    w.set(`${p}.mlp.up_proj.weight`, randomTensor([F, E], rnd, 0.4));
    w.set(`${p}.mlp.down_proj.weight`, randomTensor([E, F], rnd, 0.4));
  }
  w.set('model.norm.weight', randomTensor([E], rnd, 0.2, 1));
  if (!c.tieWordEmbeddings) w.set('lm_head.weight', randomTensor([c.vocabSize, E], rnd, 0.8));
  return w;
}
