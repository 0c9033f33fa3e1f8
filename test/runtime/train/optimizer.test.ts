import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '../../../src/runtime/tf.js';
import { initBackend } from '../../../src/runtime/backend.js';
import { AdamW } from '../../../src/runtime/train/optimizer.js';

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
