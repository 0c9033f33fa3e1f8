import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { FtcError } from '../../../src/errors.js';
import type { HostTensor } from '../../../src/runtime/model/api.js';
import { parseLlamaConfig, type LlamaConfig } from '../../../src/model-spec/config.js';
import { writeSafetensors } from '../../../src/runtime/model/safetensors.js';
import { expectedWeightShapes } from '../../../src/model-spec/modules.js';
import { loadWeights } from '../../../src/runtime/model/weights.js';
import { tempDir } from '../../helpers.js';

// vocab 10, hidden 8, 2 heads of 4, 1 kv head, ffn 12, 1 layer.
const TINY = { architectures: ['LlamaForCausalLM'], vocab_size: 10, hidden_size: 8, num_attention_heads: 2, num_key_value_heads: 1,
  intermediate_size: 12, num_hidden_layers: 1, max_position_embeddings: 16 };

/** Every expected tensor, filled with its running index so values can be checked after loading. */
function tensorsFor(c: LlamaConfig): Map<string, HostTensor & { dtype: 'F32' }> {
  const out = new Map<string, HostTensor & { dtype: 'F32' }>();
  let k = 0;
  for (const [name, shape] of expectedWeightShapes(c)) {
    const data = Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => k++);
    out.set(name, { shape, data, dtype: 'F32' });
  }
  return out;
}

function modelDir(tensors: Map<string, HostTensor & { dtype: 'F32' }>): string {
  const dir = tempDir();
  writeSafetensors(join(dir, 'model.safetensors'), tensors);
  return dir;
}

function mismatch(dir: string, c: LlamaConfig): string {
  try {
    loadWeights(dir, c);
  } catch (e) {
    assert.ok(e instanceof FtcError);
    assert.equal(e.code, 'E_MODEL_WEIGHTS_MISMATCH');
    return e.message;
  }
  assert.fail('expected E_MODEL_WEIGHTS_MISMATCH');
}

describe('expectedWeightShapes', () => {
  it('lists Llama weights as [out, in] with GQA-sized k/v', () => {
    const s = expectedWeightShapes(parseLlamaConfig(TINY, 'c'));
    assert.deepEqual(s.get('model.layers.0.self_attn.q_proj.weight'), [8, 8]);
    assert.deepEqual(s.get('model.layers.0.self_attn.k_proj.weight'), [4, 8]);
    assert.deepEqual(s.get('model.layers.0.self_attn.o_proj.weight'), [8, 8]);
    assert.deepEqual(s.get('model.layers.0.mlp.down_proj.weight'), [8, 12]);
    assert.deepEqual(s.get('lm_head.weight'), [10, 8]);
    assert.equal(s.size, 12);
  });

  it('adds q/k/v biases but no o_proj bias for Qwen2', () => {
    const s = expectedWeightShapes(parseLlamaConfig({ ...TINY, architectures: ['Qwen2ForCausalLM'], bos_token_id: 1, eos_token_id: 2 }, 'c'));
    assert.deepEqual(s.get('model.layers.0.self_attn.q_proj.bias'), [8]);
    assert.deepEqual(s.get('model.layers.0.self_attn.v_proj.bias'), [4]);
    assert.equal(s.has('model.layers.0.self_attn.o_proj.bias'), false);
    const llama = expectedWeightShapes(parseLlamaConfig({ ...TINY, attention_bias: true }, 'c'));
    assert.deepEqual(llama.get('model.layers.0.self_attn.o_proj.bias'), [8]);
  });
});

describe('loadWeights', () => {
  it('loads every tensor and ignores rotary inv_freq buffers', () => {
    const c = parseLlamaConfig(TINY, 'c');
    const t = tensorsFor(c);
    t.set('model.layers.0.self_attn.rotary_emb.inv_freq', { shape: [2], data: new Float32Array(2), dtype: 'F32' });
    const w = loadWeights(modelDir(t), c);
    assert.equal(w.size, 12);
    assert.deepEqual([...w.get('model.norm.weight')!.data], [...t.get('model.norm.weight')!.data]);
    assert.equal(w.has('model.layers.0.self_attn.rotary_emb.inv_freq'), false);
  });

  it('lists missing and wrong-shaped tensors with expected and found shapes', () => {
    const c = parseLlamaConfig(TINY, 'c');
    const t = tensorsFor(c);
    t.delete('model.layers.0.mlp.up_proj.weight');
    t.set('model.layers.0.self_attn.k_proj.weight', { shape: [8, 8], data: new Float32Array(64), dtype: 'F32' });
    const msg = mismatch(modelDir(t), c);
    assert.match(msg, /missing model\.layers\.0\.mlp\.up_proj\.weight \(expected \[12,8\]\)/);
    assert.match(msg, /model\.layers\.0\.self_attn\.k_proj\.weight: expected \[4,8\], found \[8,8\]/);
  });

  it('needs lm_head only when embeddings are untied', () => {
    const tied = parseLlamaConfig({ ...TINY, tie_word_embeddings: true }, 'c');
    const t = tensorsFor(tied);
    t.delete('lm_head.weight');
    assert.equal(loadWeights(modelDir(t), tied).has('lm_head.weight'), false);
    assert.match(mismatch(modelDir(t), parseLlamaConfig(TINY, 'c')), /missing lm_head\.weight/);
  });

  it('reports weights for more layers than config.json has', () => {
    const two = parseLlamaConfig({ ...TINY, num_hidden_layers: 2 }, 'c');
    assert.match(mismatch(modelDir(tensorsFor(two)), parseLlamaConfig(TINY, 'c')), /layers beyond num_hidden_layers=1/);
  });

  it('reads a sharded checkpoint through model.safetensors.index.json', () => {
    const c = parseLlamaConfig(TINY, 'c');
    const t = tensorsFor(c);
    const dir = tempDir();
    const names = [...t.keys()];
    const shards = [names.slice(0, 5), names.slice(5)];
    const weightMap: Record<string, string> = {};
    shards.forEach((part, i) => {
      const file = `model-0000${i + 1}-of-00002.safetensors`;
      writeSafetensors(join(dir, file), new Map(part.map((n) => [n, t.get(n)!])));
      for (const n of part) weightMap[n] = file;
    });
    writeFileSync(join(dir, 'model.safetensors.index.json'), JSON.stringify({ metadata: { total_size: 0 }, weight_map: weightMap }));
    const w = loadWeights(dir, c);
    assert.equal(w.size, 12);
    for (const n of names) assert.deepEqual([...w.get(n)!.data], [...t.get(n)!.data], n);

    // A stale index naming a tensor its shard lacks, and a shard path that leaves the directory.
    writeFileSync(join(dir, 'model.safetensors.index.json'), JSON.stringify({ weight_map: { ...weightMap, 'model.norm.weight': 'model-00001-of-00002.safetensors' } }));
    assert.throws(() => loadWeights(dir, c), (e: unknown) => e instanceof FtcError && e.code === 'E_SAFETENSORS_INDEX');
    writeFileSync(join(dir, 'model.safetensors.index.json'), JSON.stringify({ weight_map: { ...weightMap, 'model.norm.weight': '../evil.safetensors' } }));
    assert.throws(() => loadWeights(dir, c), (e: unknown) => e instanceof FtcError && e.code === 'E_SAFETENSORS_INDEX' && /not a file name/.test(e.message));
  });

  it('says how to convert when only PyTorch .bin weights exist', () => {
    const dir = tempDir();
    mkdirSync(join(dir, 'x'));
    writeFileSync(join(dir, 'x', 'pytorch_model.bin'), '');
    assert.throws(() => loadWeights(join(dir, 'x'), parseLlamaConfig(TINY, 'c')), (e: unknown) =>
      e instanceof FtcError && e.code === 'E_MODEL_WEIGHTS_MISSING' && /safe_serialization/.test(e.hint ?? ''));
  });
});
