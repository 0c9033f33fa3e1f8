import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { initBackend } from '../../../src/runtime/backend.js';
import { attentionBatched, attentionChunked, attentionPerHead, causalMask } from '../../../src/runtime/model/attention.js';
import { fusedAttention } from '../../../src/runtime/model/fused-attention.js';
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

test('query-chunked attention (recomputed in the backward pass) equals batched attention within 1e-4, S > T and chunks that do not divide T', () => {
  const rnd = lcg(5);
  const t4 = (shape: number[]): tf.Tensor4D => tf.tensor4d(randomTensor(shape, rnd, 1).data, shape as [number, number, number, number]);
  const [B, T, S, H, KV, D] = [2, 7, 9, 4, 2, 4];
  const q = t4([B, T, H, D]);
  const k = t4([B, S, KV, D]);
  const v = t4([B, S, KV, D]);
  const w = t4([B, T, H, D]);
  const mask = causalMask(T, S);
  const run = (f: (a: tf.Tensor4D, b: tf.Tensor4D, c: tf.Tensor4D) => tf.Tensor4D) => {
    const y = f(q, k, v);
    const g = tf.grads((a: tf.Tensor, b: tf.Tensor, c: tf.Tensor) => tf.sum(tf.mul(f(a as tf.Tensor4D, b as tf.Tensor4D, c as tf.Tensor4D), w)))([q, k, v]);
    return [y, ...g].map((t) => Array.from(t.dataSync()));
  };
  const expected = run((a, b, c) => attentionBatched(a, b, c, mask));
  for (const rows of [1, 3, 7]) {
    const before = tf.memory().numTensors;
    const got = run((a, b, c) => attentionChunked(a, b, c, mask, attentionBatched, rows));
    got.forEach((xs, i) => xs.forEach((x, j) => assert.ok(Math.abs(x - expected[i]![j]!) < 1e-4, `rows ${rows}, output ${i} [${j}]: ${x} vs ${expected[i]![j]}`)));
    assert.ok(tf.memory().numTensors <= before + 4, 'the chunks leave nothing behind but the outputs');
  }
});

/** Output and dq, dk, dv under a random cotangent, as host arrays. */
function valueAndGrads(f: (a: tf.Tensor4D, b: tf.Tensor4D, c: tf.Tensor4D) => tf.Tensor4D, q: tf.Tensor4D, k: tf.Tensor4D, v: tf.Tensor4D, w: tf.Tensor4D): number[][] {
  const y = f(q, k, v);
  const g = tf.grads((a: tf.Tensor, b: tf.Tensor, c: tf.Tensor) => tf.sum(tf.mul(f(a as tf.Tensor4D, b as tf.Tensor4D, c as tf.Tensor4D), w)))([q, k, v]);
  const out = [y, ...g].map((t) => Array.from(t.dataSync()));
  tf.dispose([y, ...g]);
  return out;
}

for (const backend of ['cpu', 'wasm'] as const) {
  describe(`fused attention on ${backend}`, () => {
    before(async () => {
      await initBackend(backend);
    });

    // The reference is plain batched attention differentiated by tfjs autodiff with the whole [T, S] mask.
    const cases = [
      { name: 'GQA, B > 1, a cached prefix (S > T)', B: 2, T: 7, S: 9, H: 4, KV: 2, D: 4 },
      { name: 'no prefix (S = T), MHA', B: 1, T: 6, S: 6, H: 2, KV: 2, D: 8 },
      { name: 'one new position after a cache (decoding)', B: 2, T: 1, S: 5, H: 4, KV: 1, D: 4 },
    ];
    for (const c of cases) {
      test(`equals autodiff attention within 1e-4, values and dq, dk, dv: ${c.name}, chunks that do not divide T`, () => {
        const rnd = lcg(9);
        const t4 = (shape: number[]): tf.Tensor4D => tf.tensor4d(randomTensor(shape, rnd, 1).data, shape as [number, number, number, number]);
        const q = t4([c.B, c.T, c.H, c.D]);
        const k = t4([c.B, c.S, c.KV, c.D]);
        const v = t4([c.B, c.S, c.KV, c.D]);
        const w = t4([c.B, c.T, c.H, c.D]);
        const mask = causalMask(c.T, c.S);
        const expected = valueAndGrads((a, b, x) => attentionBatched(a, b, x, mask), q, k, v, w);
        for (const rows of [1, 3, c.T, undefined]) {
          const before = tf.memory().numTensors;
          const got = valueAndGrads((a, b, x) => fusedAttention(a, b, x, rows), q, k, v, w);
          got.forEach((xs, i) => xs.forEach((x, j) => assert.ok(Math.abs(x - expected[i]![j]!) < 1e-4, `rows ${rows}, output ${i} [${j}]: ${x} vs ${expected[i]![j]}`)));
          assert.equal(tf.memory().numTensors, before, 'forward and backward leave no tensor behind');
        }
        assert.ok(expected.slice(1).every((g) => g.some((x) => Math.abs(x) > 1e-3)), 'every gradient is non-trivial');
        tf.dispose([q, k, v, w, mask]);
      });
    }
  });
}

test('one query row (a decoding step) attends to every cached key without a mask, in both routes (GQA, B = 2), as plain softmax(q·k/√D)·v', () => {
  const rnd = lcg(11);
  const [B, S, H, KV, D] = [2, 5, 4, 2, 4];
  const qh = randomTensor([B, 1, H, D], rnd, 1);
  const kh = randomTensor([B, S, KV, D], rnd, 1);
  const vh = randomTensor([B, S, KV, D], rnd, 1);
  // The reference, loop by loop: query head h reads key/value head ⌊h / (H / KV)⌋, every key 0..S−1 visible.
  const expected: number[] = [];
  for (let b = 0; b < B; b++) {
    for (let h = 0; h < H; h++) {
      const g = Math.floor(h / (H / KV));
      const at = (x: Float32Array, s: number, i: number) => x[((b * S + s) * KV + g) * D + i]!;
      const scores = Array.from({ length: S }, (_, s) => {
        let dot = 0;
        for (let i = 0; i < D; i++) dot += qh.data[(b * H + h) * D + i]! * at(kh.data, s, i);
        return dot / Math.sqrt(D);
      });
      const max = Math.max(...scores);
      const e = scores.map((x) => Math.exp(x - max));
      const z = e.reduce((a, x) => a + x, 0);
      for (let i = 0; i < D; i++) expected.push(e.reduce((acc, p, s) => acc + (p / z) * at(vh.data, s, i), 0));
    }
  }
  const q = tf.tensor4d(qh.data, [B, 1, H, D]);
  const k = tf.tensor4d(kh.data, [B, S, KV, D]);
  const v = tf.tensor4d(vh.data, [B, S, KV, D]);
  for (const f of [attentionBatched, attentionPerHead]) {
    const before = tf.memory().numTensors;
    const y = f(q, k, v);
    assert.deepEqual(y.shape, [B, 1, H, D]);
    Array.from(y.dataSync()).forEach((x, j) => assert.ok(Math.abs(x - expected[j]!) < 1e-5, `${f.name} [${j}]: ${x} vs ${expected[j]}`));
    y.dispose();
    assert.equal(tf.memory().numTensors, before, `${f.name} builds no mask it keeps`);
  }
  tf.dispose([q, k, v]);
});
