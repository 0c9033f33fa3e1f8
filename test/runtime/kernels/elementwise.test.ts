import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '../../../src/runtime/tf.js';
import '@tensorflow/tfjs-backend-wasm';
import { installWasmKernels, uninstallWasmKernels } from '../../../src/runtime/kernels/index.js';
import { seeded } from './reference.js';

/** Values computed on the host with plain loops, independent of any backend. */
function hostMultiplyRows(x: Float32Array, v: Float32Array): number[] {
  return Array.from(x, (value, i) => Math.fround(value * v[i % v.length]!));
}

describe('wasm Multiply (vector broadcast) and GatherV2', () => {
  before(async () => {
    await tf.setBackend('wasm');
    assert.equal(installWasmKernels().installed, true);
  });
  after(() => uninstallWasmKernels());

  it('multiplies every row by a trailing vector, in either operand order and for [1, E] vectors', () => {
    const x = seeded([3, 2, 5], 1);
    const v = seeded([5], 2);
    const want = hostMultiplyRows(x.data, v.data);
    for (const [a, b] of [[x, v], [v, x]] as const) {
      const got = tf.tidy(() => tf.mul(tf.tensor(a.data, a.shape), tf.tensor(b.data, b.shape)).dataSync());
      assert.deepEqual([...got], want);
    }
    const got2 = tf.tidy(() => tf.mul(tf.tensor(x.data, x.shape), tf.tensor(v.data, [1, 1, 5])));
    assert.deepEqual(got2.shape, [3, 2, 5]);
    assert.deepEqual([...got2.dataSync()], want);
    got2.dispose();
  });

  it('broadcasts over middle axes too (RoPE: [B, T, H, D] × [1, T, 1, D])', () => {
    const x = seeded([2, 3, 2, 4], 4);
    const v = seeded([1, 3, 1, 4], 5);
    const want: number[] = [];
    for (let b = 0; b < 2; b++) for (let t = 0; t < 3; t++) for (let h = 0; h < 2; h++) for (let d = 0; d < 4; d++) {
      want.push(Math.fround(x.data[((b * 3 + t) * 2 + h) * 4 + d]! * v.data[t * 4 + d]!));
    }
    for (const [a, b] of [[x, v], [v, x]] as const) {
      const got = tf.tidy(() => tf.mul(tf.tensor(a.data, a.shape), tf.tensor(b.data, b.shape)).dataSync());
      assert.deepEqual([...got], want);
    }
    // [T, 1, D] (lower rank) against [B, T, H, D].
    const got3 = tf.tidy(() => tf.mul(tf.tensor(x.data, x.shape), tf.tensor(v.data, [3, 1, 4])).dataSync());
    assert.deepEqual([...got3], want);
  });

  it('leaves other broadcasts to the built-in kernel', () => {
    // [2, 3] × [2, 1] is a column broadcast: not the trailing-vector case.
    const got = tf.tidy(() => tf.mul(tf.tensor2d([[1, 2, 3], [4, 5, 6]]), tf.tensor2d([[2], [10]])).dataSync());
    assert.deepEqual([...got], [2, 4, 6, 40, 50, 60]);
    const ints = tf.tidy(() => tf.mul(tf.tensor2d([[1, 2], [3, 4]], undefined, 'int32'), tf.tensor1d([3, 5], 'int32')).dataSync());
    assert.deepEqual([...ints], [3, 10, 9, 20]);
  });

  it('gathers rows, inner slices and single elements, with repeats and 2-D indices', () => {
    const table = seeded([4, 3, 2], 3);
    const at = (i: number, j: number, k: number) => table.data[(i * 3 + j) * 2 + k]!;
    tf.tidy(() => {
      const x = tf.tensor(table.data, table.shape);
      const rows = tf.gather(x, tf.tensor2d([[3, 0], [3, 1]], undefined, 'int32'), 0);
      assert.deepEqual(rows.shape, [2, 2, 3, 2]);
      const wantRows = [3, 0, 3, 1].flatMap((i) => [0, 1, 2].flatMap((j) => [at(i, j, 0), at(i, j, 1)]));
      assert.deepEqual([...rows.dataSync()], wantRows);
      const mid = tf.gather(x, tf.tensor1d([2, 2, 0], 'int32'), 1);
      assert.deepEqual(mid.shape, [4, 3, 2]);
      const wantMid = [0, 1, 2, 3].flatMap((i) => [2, 2, 0].flatMap((j) => [at(i, j, 0), at(i, j, 1)]));
      assert.deepEqual([...mid.dataSync()], wantMid);
      const last = tf.gather(x, tf.tensor1d([1], 'int32'), -1);
      assert.deepEqual([...last.dataSync()], [0, 1, 2, 3].flatMap((i) => [0, 1, 2].map((j) => at(i, j, 1))));
      const ints = tf.gather(tf.tensor1d([7, 8, 9], 'int32'), tf.tensor1d([2, 0], 'int32'));
      assert.equal(ints.dtype, 'int32');
      assert.deepEqual([...ints.dataSync()], [9, 7]);
    });
  });

  it('an out-of-range index is still the built-in error', () => {
    assert.throws(() => tf.tidy(() => tf.gather(tf.tensor1d([1, 2]), tf.tensor1d([2], 'int32'))), /not in \[0, 1\]/);
  });

  it('leaks no tensors', () => {
    const x = tf.tensor2d([[1, 2], [3, 4]]);
    const once = () => tf.tidy(() => tf.sum(tf.add(tf.mul(x, tf.tensor1d([2, 3])), tf.gather(x, tf.tensor1d([1, 0], 'int32')))).dataSync());
    once();
    const start = tf.memory().numTensors;
    for (let i = 0; i < 5; i++) once();
    assert.equal(tf.memory().numTensors, start);
    x.dispose();
  });
});
