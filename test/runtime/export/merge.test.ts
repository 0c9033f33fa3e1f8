import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { FtcError } from '../../../src/errors.js';
import { exportModel } from '../../../src/runtime/export/export-model.js';
import { addLowRank, loraScaling, mergeAdapter } from '../../../src/runtime/export/merge.js';
import { initBackend } from '../../../src/runtime/backend.js';
import { loadCausalLM } from '../../../src/runtime/model/causal-lm.js';
import { readSafetensorsHeader } from '../../../src/runtime/model/safetensors.js';
import * as tf from '../../../src/runtime/tf.js';
import { tempDir } from '../../helpers.js';
import { makeRandomAdapter, makeTinyModel } from './fixture.js';

const t = (shape: number[], values: number[]) => ({ shape, data: Float32Array.from(values) });

describe('merge', () => {
  it('adds scaling · B·A to W (by hand)', () => {
    // W [2, 3], B [2, 2], A [2, 3]; B·A = [[1·1+2·0, 1·0+2·1, 1·2+2·1], [0·1+(-1)·0, 0·0+(-1)·1, 0·2+(-1)·1]] = [[1, 2, 4], [0, -1, -1]]
    const W = t([2, 3], [1, 1, 1, 0, 0, 0]);
    const B = t([2, 2], [1, 2, 0, -1]);
    const A = t([2, 3], [1, 0, 2, 0, 1, 1]);
    const merged = addLowRank(W, B, A, 0.5);
    assert.deepEqual(merged.shape, [2, 3]);
    assert.deepEqual([...merged.data], [1.5, 2, 3, 0, -0.5, -0.5]);
    assert.deepEqual([...W.data], [1, 1, 1, 0, 0, 0], 'the base tensor is not modified');
    assert.throws(() => addLowRank(W, B, t([2, 4], new Array(8).fill(0)), 1), (e: unknown) => e instanceof FtcError && e.code === 'E_ADAPTER_SHAPE');
  });

  it('scales by alpha/r, or alpha/√r with rslora', () => {
    assert.equal(loraScaling({ r: 8, alpha: 32, useRslora: false }), 4);
    assert.equal(loraScaling({ r: 16, alpha: 32, useRslora: true }), 8);
  });

  it('carries trained biases over and refuses a bias the base lacks', () => {
    const weights = new Map([
      ['model.layers.0.self_attn.q_proj.weight', t([2, 2], [1, 0, 0, 1])],
      ['model.layers.0.self_attn.q_proj.bias', t([2], [0, 0])],
    ]);
    const config = { r: 1, alpha: 2, dropout: 0, targetModules: ['q_proj'], bias: 'all' as const, useRslora: false, baseModel: '' };
    const tensors = new Map([
      ['base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight', t([1, 2], [1, 2])],
      ['base_model.model.model.layers.0.self_attn.q_proj.lora_B.weight', t([2, 1], [3, -1])],
      ['base_model.model.model.layers.0.self_attn.q_proj.bias', t([2], [0.25, -0.5])],
    ]);
    const r = mergeAdapter(weights, { config, tensors });
    // scaling 2: W + 2·[[3, 6], [-1, -2]]
    assert.deepEqual([...r.weights.get('model.layers.0.self_attn.q_proj.weight')!.data], [7, 12, -2, -3]);
    assert.deepEqual([...r.weights.get('model.layers.0.self_attn.q_proj.bias')!.data], [0.25, -0.5]);
    assert.deepEqual([r.merged, r.biases], [1, 1]);
    weights.delete('model.layers.0.self_attn.q_proj.bias');
    assert.throws(() => mergeAdapter(weights, { config, tensors }), (e: unknown) => e instanceof FtcError && e.code === 'E_ADAPTER_KEYS');
  });
});

describe('merged export', () => {
  it('reloads in ftc with the logits of base + adapter (f32 within 1e-5, f16 within 0.05, bf16 within 0.5)', async () => {
    await initBackend('cpu');
    const root = tempDir('ftc-merge-');
    const base = join(root, 'base');
    const adapter = join(root, 'adapter');
    const config = makeTinyModel(base);
    makeRandomAdapter(adapter, config, { useRslora: true, targetModules: ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'down_proj'] });
    const ids = tf.tensor2d([[1, 40, 90, 7, 300, 5, 61, 250]], [1, 8], 'int32');
    const logits = (dir: string, adapterDir?: string): Float32Array => {
      const m = loadCausalLM(dir, { adapterDir });
      try {
        const out = m.forward(ids);
        const data = out.dataSync() as Float32Array;
        out.dispose();
        return data;
      } finally {
        m.dispose();
      }
    };
    const expected = logits(base, adapter);
    const plain = logits(base);
    // The adapter must matter, or the comparison below would prove nothing.
    assert.ok(maxDiff(expected, plain) > 0.1, `adapter changes logits by ${maxDiff(expected, plain)}`);

    for (const [dtype, tol] of [['f32', 1e-5], ['f16', 0.05], ['bf16', 0.5]] as const) {
      const out = join(root, `merged-${dtype}`);
      const r = exportModel({ modelDir: base, adapterDir: adapter, format: 'merged', dtype, outDir: out });
      assert.equal(r.merged, 10);
      assert.deepEqual(r.files.sort(), ['config.json', 'generation_config.json', 'model.safetensors', 'special_tokens_map.json', 'tokenizer.json', 'tokenizer_config.json']);
      const cfg = JSON.parse(readFileSync(join(out, 'config.json'), 'utf8'));
      assert.equal(cfg.torch_dtype, undefined);
      assert.equal(cfg.dtype, { f32: 'float32', f16: 'float16', bf16: 'bfloat16' }[dtype]);
      const dtypes = new Set([...readSafetensorsHeader(join(out, 'model.safetensors')).tensors.values()].map((x) => x.dtype));
      assert.deepEqual([...dtypes], [{ f32: 'F32', f16: 'F16', bf16: 'BF16' }[dtype]]);
      assert.equal(readFileSync(join(out, 'tokenizer.json'), 'utf8'), readFileSync(join(base, 'tokenizer.json'), 'utf8'));
      const diff = maxDiff(logits(out), expected);
      assert.ok(diff < tol, `${dtype}: max logit difference ${diff}`);
    }
    ids.dispose();
  });

  it('refuses q8_0 for merged weights', () => {
    const root = tempDir('ftc-merge-');
    const config = makeTinyModel(join(root, 'base'));
    makeRandomAdapter(join(root, 'adapter'), config);
    assert.throws(() => exportModel({ modelDir: join(root, 'base'), adapterDir: join(root, 'adapter'), format: 'merged', dtype: 'q8_0', outDir: join(root, 'o') }),
      (e: unknown) => e instanceof FtcError && e.code === 'E_EXPORT_DTYPE');
  });
});

function maxDiff(a: Float32Array, b: Float32Array): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}
