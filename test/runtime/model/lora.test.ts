import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { FtcError } from '../../../src/errors.js';
import type { LoraSettings } from '../../../src/runtime/model/api.js';
import { initBackend } from '../../../src/runtime/backend.js';
import { createCausalLM } from '../../../src/runtime/model/causal-lm.js';
import * as tf from '../../../src/runtime/tf.js';
import { lcg, randomTensor, randomWeights, tinyConfig } from './fixtures.js';
import { referenceLogits } from './reference.js';
import { dropout } from '../../../src/runtime/model/lora.js';

const settings = (over: Partial<LoraSettings> = {}): LoraSettings => ({
  r: 4, alpha: 8, targetModules: ['q_proj', 'v_proj'], dropout: 0, bias: 'none', useRslora: false, seed: 11, ...over,
});
const IDS = [[3, 7, 1, 19, 22], [0, 11, 11, 4, 9]];
const LABELS = [[-100, -100, 1, 19, 22], [-100, 11, 11, -100, 9]];

describe('LoRA', () => {
  before(async () => {
    await initBackend('cpu');
  });

  test('A is kaiming-uniform(a=√5) within ±1/√in, B is zero, same seed same init', () => {
    const config = tinyConfig({ hiddenSize: 64, numAttentionHeads: 4, numKeyValueHeads: 4, intermediateSize: 32 });
    const weights = randomWeights(config);
    const m1 = createCausalLM(config, weights, settings({ r: 8 }));
    const m2 = createCausalLM(config, weights, settings({ r: 8 }));
    const m3 = createCausalLM(config, weights, settings({ r: 8, seed: 12 }));
    const [a1, a2, a3] = [m1, m2, m3].map((m) => m.exportAdapter());
    const key = 'base_model.model.model.layers.1.self_attn.v_proj';
    const A = a1.get(`${key}.lora_A.weight`)!;
    assert.deepEqual(A.shape, [8, 64]);
    assert.deepEqual(a1.get(`${key}.lora_B.weight`)!.shape, [64, 8]); // [kv heads · head_dim, r]
    const bound = 1 / Math.sqrt(64);
    const max = Math.max(...A.data.map(Math.abs));
    assert.ok(max <= bound && max > 0.95 * bound, `max |A| = ${max}, bound ${bound}`);
    const mean = A.data.reduce((s, v) => s + v, 0) / A.data.length;
    assert.ok(Math.abs(mean) < 0.2 * bound);
    for (const [k, t] of a1) if (k.endsWith('lora_B.weight')) assert.ok(t.data.every((v) => v === 0), k);
    assert.deepEqual(a1.get(`${key}.lora_A.weight`)!.data, a2.get(`${key}.lora_A.weight`)!.data);
    assert.notDeepEqual(a1.get(`${key}.lora_A.weight`)!.data, a3.get(`${key}.lora_A.weight`)!.data);
    // The PEFT key set: two matrices per target module per layer, nothing else.
    assert.deepEqual([...m1.adapterParams().keys()].sort(), [0, 1].flatMap((i) => ['q_proj', 'v_proj'].flatMap((n) =>
      ['lora_A', 'lora_B'].map((p) => `base_model.model.model.layers.${i}.self_attn.${n}.${p}.weight`))).sort());
    [m1, m2, m3].forEach((m) => m.dispose());
  });

  test('unknown target modules are an FtcError listing the model modules', () => {
    const config = tinyConfig();
    assert.throws(() => createCausalLM(config, randomWeights(config), settings({ targetModules: ['q_proj', 'c_attn'] })), (e: unknown) => {
      assert.ok(e instanceof FtcError);
      assert.equal(e.code, 'E0307');
      assert.match(e.message, /"c_attn"/);
      assert.match(e.hint ?? '', /q_proj, k_proj, v_proj, o_proj, gate_proj, up_proj, down_proj/);
      return true;
    });
  });

  test('a wrong-shaped or missing weight is an FtcError naming it', () => {
    const config = tinyConfig();
    const w = randomWeights(config);
    w.set('model.layers.1.mlp.up_proj.weight', randomTensor([3, 3], lcg(1), 1));
    w.delete('model.norm.weight');
    assert.throws(() => createCausalLM(config, w), /up_proj\.weight: expected \[24,16\], found \[3,3\][\s\S]*missing model\.norm\.weight/);
  });

  test('dropout: seeded per step, only in training, and on the adapter path only', () => {
    const config = tinyConfig();
    const model = createCausalLM(config, randomWeights(config), settings({ dropout: 0.5 }));
    const ids = tf.tensor2d(IDS, undefined, 'int32');
    const run = (training: boolean, seed: number): Float32Array => tf.tidy(() => model.forward(ids, { training, dropoutSeed: seed }).dataSync() as Float32Array);
    // B = 0: the adapter adds nothing, so dropout on its input cannot change the output.
    assert.deepEqual(run(true, 1), run(false, 0));
    const exported = model.exportAdapter();
    const rnd = lcg(5);
    for (const [k, t] of exported) if (k.endsWith('lora_B.weight')) exported.set(k, randomTensor(t.shape, rnd, 0.5));
    model.importAdapter(exported);
    assert.deepEqual(run(true, 1), run(true, 1));
    assert.notDeepEqual(run(true, 1), run(true, 2));
    assert.notDeepEqual(run(true, 1), run(false, 1));
    assert.deepEqual(run(false, 1), run(false, 2));
    ids.dispose();
    model.dispose();
  });

  test('dropout mask: rate p, survivors scaled by 1/(1-p), each example from its own seed', () => {
    const p = 0.25;
    const rows = 50; // T per example
    const width = 40;
    const both = tf.tidy(() => dropout(tf.ones([2 * rows, width]) as tf.Tensor2D, p, [3, 9]).dataSync() as Float32Array);
    const alone = tf.tidy(() => dropout(tf.ones([rows, width]) as tf.Tensor2D, p, [9]).dataSync() as Float32Array);
    const zeros = both.filter((x) => x === 0).length;
    assert.ok(both.every((x) => x === 0 || Math.abs(x - 1 / (1 - p)) < 1e-6), 'values are 0 or 1/(1-p)');
    // 4,000 draws: the zero fraction's standard deviation is ~0.007, so ±0.03 fails only a broken rate.
    assert.ok(Math.abs(zeros / both.length - p) < 0.03, `zero fraction ${zeros / both.length}`);
    assert.deepEqual(both.subarray(rows * width), alone, "example 1's mask does not depend on example 0");
    assert.notDeepEqual(both.subarray(0, rows * width), alone);
  });

  test('loss is the mean next-token cross-entropy over labels != -100 (HF shift)', () => {
    const config = tinyConfig();
    const weights = randomWeights(config);
    const model = createCausalLM(config, weights);
    const ref = referenceLogits(config, weights, IDS);
    let sum = 0;
    let count = 0;
    LABELS.forEach((row, b) => row.forEach((label, t) => {
      if (t === 0 || label === -100) return;
      const logits = ref[b][t - 1];
      const m = Math.max(...logits);
      const lse = m + Math.log(logits.reduce((s, v) => s + Math.exp(v - m), 0));
      sum += lse - logits[label];
      count++;
    }));
    const ids = tf.tensor2d(IDS, undefined, 'int32');
    const labels = tf.tensor2d(LABELS, undefined, 'int32');
    const loss = model.loss(ids, labels);
    assert.ok(Math.abs(loss.dataSync()[0] - sum / count) < 1e-4, `${loss.dataSync()[0]} vs ${sum / count}`);
    const none = model.loss(ids, tf.fill([2, 5], -100, 'int32') as tf.Tensor2D);
    assert.equal(Math.abs(none.dataSync()[0]), 0);
    tf.dispose([ids, labels, loss, none]);
    model.dispose();
  });

  test('adapter gradients match central finite differences; base weights get none', () => {
    // Qwen2-style qkv biases with bias = all, so trained biases are checked too.
    const config = tinyConfig({ attentionBias: true, architecture: 'Qwen2ForCausalLM', modelType: 'qwen2' });
    const model = createCausalLM(config, randomWeights(config, 4), settings({ targetModules: ['q_proj', 'v_proj', 'down_proj'], bias: 'all', r: 2 }));
    const rnd = lcg(8);
    const params = model.adapterParams();
    // B starts at zero, which would make A's gradient vanish: give B random values first.
    for (const [k, v] of params) if (k.endsWith('lora_B.weight')) v.assign(tf.tensor(randomTensor(v.shape, rnd, 0.3).data, v.shape));
    const ids = tf.tensor2d(IDS, undefined, 'int32');
    const labels = tf.tensor2d(LABELS, undefined, 'int32');
    const lossOf = (): number => tf.tidy(() => model.loss(ids, labels).dataSync()[0]);

    // With no varList tfjs differentiates every trainable variable: they must be exactly the adapter's.
    const { grads, value } = tf.variableGrads(() => model.loss(ids, labels));
    // (tfjs keys gradients by Variable name; ours are engine-assigned, so compare those.)
    assert.deepEqual(Object.keys(grads).sort(), [...params.values()].map((v) => v.name).sort());
    assert.ok(params.has('base_model.model.model.layers.0.self_attn.k_proj.bias'));

    // float32 central differences: loss ≈ 3 carries ~3e-7 rounding, so with h = 1e-2 the quotient's
    // rounding error is ~3e-5 and the O(h²) truncation error ~1e-4 here; 2e-3 + 2% covers both with margin
    // while a wrong transpose or scaling (errors of order |g|) still fails.
    const h = 1e-2;
    let checked = 0;
    for (const [name, v] of params) {
      const g = grads[v.name].dataSync();
      const values = v.dataSync().slice();
      for (const i of [0, Math.floor(values.length / 2), values.length - 1]) {
        const at = (delta: number): number => {
          const p = values.slice();
          p[i] += delta;
          v.assign(tf.tensor(p, v.shape));
          return lossOf();
        };
        const fd = (at(h) - at(-h)) / (2 * h);
        v.assign(tf.tensor(values, v.shape));
        assert.ok(Math.abs(fd - g[i]) <= 2e-3 + 0.02 * Math.abs(fd), `${name}[${i}]: analytic ${g[i]}, numeric ${fd}`);
        if (Math.abs(fd) > 1e-3) checked++;
      }
    }
    assert.ok(checked > 10, `only ${checked} non-trivial gradient entries checked`);
    tf.dispose([ids, labels, value, ...Object.values(grads)]);
    model.dispose();
  });

  test('repeated forward, loss and gradient calls leave no tensors behind', () => {
    const config = tinyConfig();
    const model = createCausalLM(config, randomWeights(config), settings({ dropout: 0.1 }));
    const ids = tf.tensor2d(IDS, undefined, 'int32');
    const labels = tf.tensor2d(LABELS, undefined, 'int32');
    const once = (): void => {
      tf.dispose(model.forward(ids));
      const { value, grads } = tf.variableGrads(() => model.loss(ids, labels, { training: true, dropoutSeed: 3 }));
      tf.dispose([value, ...Object.values(grads)]);
    };
    once();
    const after1 = tf.memory().numTensors;
    for (let i = 0; i < 5; i++) once();
    assert.equal(tf.memory().numTensors, after1);
    tf.dispose([ids, labels]);
    const before = tf.memory().numTensors;
    model.dispose();
    assert.ok(tf.memory().numTensors < before);
  });
});
