/** A tiny Llama (initModel, weights rescaled so greedy choices are not near-ties) and a random non-zero PEFT adapter. */
import { join } from 'node:path';
import type { HostTensor } from '../../../src/runtime/model/api.js';
import { loadLlamaConfig, type LlamaConfig } from '../../../src/model-spec/config.js';
import { initModel, xoshiro128 } from '../../../src/runtime/model/init.js';
import { moduleDims } from '../../../src/model-spec/modules.js';
import { peftKey, saveAdapter, type AdapterConfig } from '../../../src/runtime/model/peft.js';
import { writeSafetensors } from '../../../src/runtime/model/safetensors.js';
import { loadWeights } from '../../../src/runtime/model/weights.js';

export const CORPUS = [
  'Give three tips for staying healthy. Eat well, sleep well and exercise regularly.',
  'What are the three primary colors? The three primary colors are red, blue and yellow.',
  'Describe the structure of an atom. An atom is made of protons, neutrons and electrons.',
  'The quick brown fox jumps over the lazy dog while the cat sleeps in the sun.',
];

/**
 * hidden 64 with 4 query / 2 key-value heads (head_dim 16, so the rope permutation is non-trivial and GQA is
 * exercised), ffn 80 (not a multiple of 32: down_proj falls back to f16 under q8_0, as llama.cpp's converter does).
 */
export function makeTinyModel(dir: string, opts: { vocab?: number; tie?: boolean; seed?: number; ffn?: number } = {}): LlamaConfig {
  initModel(dir, {
    layers: 2, hidden: 64, heads: 4, kvHeads: 2, ffn: opts.ffn ?? 80, vocab: opts.vocab ?? 320, maxPositions: 128,
    seed: opts.seed ?? 3, dtype: 'f32', corpus: CORPUS, tieWordEmbeddings: opts.tie,
  });
  const config = loadLlamaConfig(dir);
  // initModel's std 0.02 gives near-uniform next-token distributions; ×10 makes the model opinionated.
  const weights = loadWeights(dir, config);
  const scaled = new Map<string, HostTensor & { dtype: 'F32' }>();
  for (const [name, t] of weights) {
    const k = name.endsWith('norm.weight') ? 1 : 10;
    scaled.set(name, { shape: t.shape, data: t.data.map((v) => v * k), dtype: 'F32' });
  }
  writeSafetensors(join(dir, 'model.safetensors'), scaled, { format: 'pt' });
  return config;
}

/** A random adapter on the given modules (both A and B non-zero), saved in PEFT format. */
export function makeRandomAdapter(dir: string, config: LlamaConfig, opts: Partial<AdapterConfig> & { seed?: number; scale?: number } = {}): AdapterConfig {
  const ac: AdapterConfig = {
    r: 4, alpha: 8, dropout: 0, bias: 'none', useRslora: false, baseModel: 'base',
    targetModules: ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj'], ...opts,
  };
  const rnd = xoshiro128(opts.seed ?? 7);
  const scale = opts.scale ?? 0.15;
  const uniform = (n: number) => Float32Array.from({ length: n }, () => (2 * rnd() - 1) * scale);
  const params = new Map<string, HostTensor>();
  for (let layer = 0; layer < config.numHiddenLayers; layer++) {
    for (const m of ac.targetModules) {
      const { in: inF, out } = moduleDims(config, m);
      params.set(peftKey(layer, m, 'lora_A'), { shape: [ac.r, inF], data: uniform(ac.r * inF) });
      params.set(peftKey(layer, m, 'lora_B'), { shape: [out, ac.r], data: uniform(out * ac.r) });
    }
  }
  saveAdapter(dir, params, ac);
  return ac;
}
