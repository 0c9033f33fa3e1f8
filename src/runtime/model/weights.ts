import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { FtcError } from '../../errors.js';
import type { WeightMap } from './api.js';
import type { LlamaConfig } from './config.js';
import { readSafetensors, readSafetensorsHeader, readSafetensorsIndex } from './safetensors.js';

/**
 * Every tensor a Llama-family checkpoint must hold for `config`, with its shape, by Hugging Face name.
 * Linear weights are [out, in] as PyTorch stores them. `lm_head.weight` is listed even when tied
 * (see `isOptionalWeight`).
 */
export function expectedWeightShapes(c: LlamaConfig): Map<string, number[]> {
  const H = c.hiddenSize;
  const q = c.numAttentionHeads * c.headDim;
  const kv = c.numKeyValueHeads * c.headDim;
  const F = c.intermediateSize;
  const m = new Map<string, number[]>();
  m.set('model.embed_tokens.weight', [c.vocabSize, H]);
  for (let i = 0; i < c.numHiddenLayers; i++) {
    const p = `model.layers.${i}`;
    m.set(`${p}.input_layernorm.weight`, [H]);
    m.set(`${p}.self_attn.q_proj.weight`, [q, H]);
    m.set(`${p}.self_attn.k_proj.weight`, [kv, H]);
    m.set(`${p}.self_attn.v_proj.weight`, [kv, H]);
    m.set(`${p}.self_attn.o_proj.weight`, [H, q]);
    if (c.attentionBias) {
      m.set(`${p}.self_attn.q_proj.bias`, [q]);
      m.set(`${p}.self_attn.k_proj.bias`, [kv]);
      m.set(`${p}.self_attn.v_proj.bias`, [kv]);
      // Llama's attention_bias covers o_proj too; Qwen2's q/k/v biases never do.
      if (c.architecture === 'LlamaForCausalLM') m.set(`${p}.self_attn.o_proj.bias`, [H]);
    }
    m.set(`${p}.post_attention_layernorm.weight`, [H]);
    m.set(`${p}.mlp.gate_proj.weight`, [F, H]);
    m.set(`${p}.mlp.up_proj.weight`, [F, H]);
    m.set(`${p}.mlp.down_proj.weight`, [H, F]);
  }
  m.set('model.norm.weight', [H]);
  m.set('lm_head.weight', [c.vocabSize, H]);
  return m;
}

/** lm_head may be absent when tied to the embeddings (the model then reuses embed_tokens). */
export function isOptionalWeight(name: string, c: LlamaConfig): boolean {
  return name === 'lm_head.weight' && c.tieWordEmbeddings;
}

/** Where each tensor of a model directory lives: model.safetensors, or the shards of an index. */
export function locateWeights(dir: string): Map<string, string> {
  const single = join(dir, 'model.safetensors');
  if (existsSync(single)) {
    const names = readSafetensorsHeader(single).tensors.keys();
    return new Map([...names].map((n) => [n, single]));
  }
  const index = join(dir, 'model.safetensors.index.json');
  if (existsSync(index)) return readSafetensorsIndex(index);
  const hasBin = existsSync(join(dir, 'pytorch_model.bin')) || existsSync(join(dir, 'pytorch_model.bin.index.json'));
  throw new FtcError('E_MODEL_WEIGHTS_MISSING', `no model.safetensors or model.safetensors.index.json in ${dir}`, { file: dir },
    hasBin
      ? 'the model has only PyTorch .bin weights; convert them with transformers: model.save_pretrained(dir, safe_serialization=True)'
      : '`ftc init-model DIR` writes a small model; a Hugging Face download holds model.safetensors');
}

/**
 * Loads a model directory's weights (single file or sharded), after checking from the headers alone that
 * every tensor `config` requires is present with the right shape. Tensors the model does not use
 * (rotary inv_freq buffers and the like) are never read.
 */
export function loadWeights(dir: string, config: LlamaConfig): WeightMap {
  const where = locateWeights(dir);
  const expected = expectedWeightShapes(config);

  // Shapes from the headers: a mismatch is reported before any tensor data is read.
  const found = new Map<string, { shape: number[]; dtype: string; file: string }>();
  const byShard = new Map<string, string[]>();
  for (const [name, file] of where) {
    if (expected.has(name)) (byShard.get(file) ?? byShard.set(file, []).get(file)!).push(name);
  }
  for (const [file, names] of byShard) {
    const header = readSafetensorsHeader(file);
    for (const name of names) {
      const t = header.tensors.get(name);
      if (!t) {
        throw new FtcError('E_SAFETENSORS_INDEX', `the index maps "${name}" to ${file}, which does not hold it`, { file },
          'the sharded checkpoint is incomplete or its index is stale');
      }
      found.set(name, { shape: t.shape, dtype: t.dtype, file });
    }
  }

  const problems: string[] = [];
  for (const [name, shape] of expected) {
    const f = found.get(name);
    if (!f) {
      if (!isOptionalWeight(name, config)) problems.push(`missing ${name} (expected [${shape}])`);
    } else if (f.shape.length !== shape.length || f.shape.some((d, i) => d !== shape[i])) {
      problems.push(`${name}: expected [${shape}], found [${f.shape}]`);
    }
  }
  const extraLayers = [...where.keys()].filter((n) => {
    const m = /^model\.layers\.(\d+)\./.exec(n);
    return m !== null && Number(m[1]) >= config.numHiddenLayers && !n.endsWith('rotary_emb.inv_freq');
  });
  if (extraLayers.length > 0) problems.push(`${extraLayers.length} tensors for layers beyond num_hidden_layers=${config.numHiddenLayers}, e.g. ${extraLayers[0]}`);
  if (problems.length > 0) {
    const shown = problems.slice(0, 20).join('\n  ') + (problems.length > 20 ? `\n  ... and ${problems.length - 20} more` : '');
    throw new FtcError('E_MODEL_WEIGHTS_MISMATCH', `weights in ${dir} do not match config.json:\n  ${shown}`, { file: join(dir, 'config.json') },
      'the weights belong to a different model than config.json describes');
  }

  const weights: WeightMap = new Map();
  for (const [file, names] of byShard) {
    const wanted = new Set(names);
    for (const [name, t] of readSafetensors(file, { filter: (n) => wanted.has(n) })) weights.set(name, t);
  }
  return weights;
}
