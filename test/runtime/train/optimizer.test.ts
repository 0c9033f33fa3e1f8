import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '../../../src/runtime/tf.js';
import { initBackend } from '../../../src/runtime/backend.js';
import { AdamW, hfDecays } from '../../../src/runtime/train/optimizer.js';

// Expected parameters after each step, computed by hand with torch.optim.AdamW's update rule
// (lr 0.1, betas 0.9/0.999, eps 1e-8, weight decay 0.01; p0 = [1, -2]; given gradients).
const GRADS = [[0.5, -1.0], [-0.2, 0.3], [0.1, 0.0]];
const EXPECTED = [
  [0.899000002, -1.898000001],
  [0.8635404181145108, -1.8533171424282264],
  [0.824737700415581, -1.8183910057075732],
];

test('AdamW matches the torch update for three steps, weight decay decoupled', async () => {
  await initBackend('cpu');
  const p = tf.variable(tf.tensor1d([1, -2]));
  const opt = new AdamW(new Map([['p', p]]), { beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.01 });
  GRADS.forEach((g, i) => {
    const grad = tf.tensor1d(g);
    opt.step({ p: grad }, 0.1);
    grad.dispose();
    const got = p.dataSync();
    EXPECTED[i]!.forEach((e, j) => assert.ok(Math.abs(got[j]! - e) < 1e-6, `step ${i + 1} p[${j}] = ${got[j]}, expected ${e}`));
  });
  assert.equal(opt.stepCount, 3);
  opt.dispose();
  p.dispose();
});

test('AdamW state round-trips: a restored optimizer continues exactly like the original', async () => {
  await initBackend('cpu');
  const run = (restoreAfter?: number) => {
    const p = tf.variable(tf.tensor1d([1, -2]));
    let opt = new AdamW(new Map([['p', p]]), { beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.01 });
    GRADS.forEach((g, i) => {
      if (i === restoreAfter) {
        const saved = opt.state();
        opt.dispose();
        opt = new AdamW(new Map([['p', p]]), { beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.01 });
        opt.loadState(saved);
      }
      const grad = tf.tensor1d(g);
      opt.step({ p: grad }, 0.1);
      grad.dispose();
    });
    const out = Array.from(p.dataSync());
    opt.dispose();
    p.dispose();
    return out;
  };
  assert.deepEqual(run(2), run());
  assert.deepEqual(run(1), run());
});

test('AdamW creates its moments once: no tensors leak per step', async () => {
  await initBackend('cpu');
  const p = tf.variable(tf.tensor1d([1, -2]));
  const g = tf.tensor1d([0.1, 0.2]);
  const opt = new AdamW(new Map([['p', p]]), { beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.1 });
  opt.step({ p: g }, 0.1);
  const after1 = tf.memory().numTensors;
  for (let i = 0; i < 5; i++) opt.step({ p: g }, 0.1);
  assert.equal(tf.memory().numTensors, after1);
  opt.dispose();
  g.dispose();
  p.dispose();
});

test('AdamW decays what HF Trainer decays: LoRA matrices and linear weights, not biases or norm weights', async () => {
  await initBackend('cpu');
  const names = [
    'base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight', 'model.layers.0.mlp.down_proj.weight', 'model.embed_tokens.weight',
    'base_model.model.model.layers.0.self_attn.k_proj.bias', 'model.layers.0.input_layernorm.weight',
    'model.layers.1.post_attention_layernorm.weight', 'model.norm.weight',
  ];
  const params = new Map(names.map((n) => [n, tf.variable(tf.tensor1d([2]))]));
  const opt = new AdamW(params, { beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.5 });
  // A zero gradient leaves m = v = 0, so the Adam part moves nothing: only decay p ← p·(1 − lr·wd) = 2·0.95.
  const zero = tf.tensor1d([0]);
  opt.step(Object.fromEntries(names.map((n) => [n, zero])), 0.1);
  const got = Object.fromEntries(names.map((n) => [n, params.get(n)!.dataSync()[0]]));
  const decayed = (n: string) => Math.abs(got[n]! - 1.9) < 1e-6;
  assert.deepEqual(names.map(decayed), [true, true, true, false, false, false, false]);
  assert.deepEqual(names.map(hfDecays), [true, true, true, false, false, false, false]);
  for (const n of names.filter((x) => !decayed(x))) assert.equal(got[n], 2);
  opt.dispose();
  zero.dispose();
  for (const p of params.values()) p.dispose();
});
