import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import { initBackend } from '../../../src/runtime/backend.js';
import { attentionBatched, attentionPerHead } from '../../../src/runtime/model/attention.js';
import * as tf from '../../../src/runtime/tf.js';
import { lcg, randomTensor } from './fixtures.js';

before(async () => {
  await initBackend('cpu');
});

test('per-head and batched attention agree, values and gradients (GQA, cached prefix S > T)', () => {
  const rnd = lcg(2);
  const t4 = (shape: number[]): tf.Tensor4D => tf.tensor4d(randomTensor(shape, rnd, 1).data, shape as [number, number, number, number]);
  const q = t4([2, 3, 4, 4]); // [B, T, H, D]
  const k = t4([2, 5, 2, 4]); // [B, S, KV, D]
  const v = t4([2, 5, 2, 4]);
  const w = t4([2, 3, 4, 4]); // a random cotangent so every output element matters
  const run = (f: typeof attentionPerHead) => {
    const y = f(q, k, v);
    const g = tf.grads((a: tf.Tensor, b: tf.Tensor, c: tf.Tensor) => tf.sum(tf.mul(f(a as tf.Tensor4D, b as tf.Tensor4D, c as tf.Tensor4D), w)))([q, k, v]);
    return [y, ...g].map((t) => Array.from(t.dataSync()));
  };
  const a = run(attentionPerHead);
  const b = run(attentionBatched);
  a.forEach((xs, i) => xs.forEach((x, j) => assert.ok(Math.abs(x - b[i][j]) < 1e-5, `output ${i} [${j}]: ${x} vs ${b[i][j]}`)));
});
