/**
 * The 4-bit products of kernels/nf4.ts (forward x·Wᵀ, input gradient dy·W, the M = 1 GEMV) against an
 * independent reference: the JS dequantizer (src/runtime/quant/quantize4bit.ts, itself byte-exact with
 * bitsandbytes in test/interop/bitsandbytes.test.ts) followed by float64 products. Odd shapes put blocks of 64
 * across row ends and rows on odd nibbles; K past one K block and N past one panel group exercise the tiling.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import * as tf from '../../../src/runtime/tf.js';
import '@tensorflow/tfjs-backend-wasm';
import { installWasmKernels, uninstallWasmKernels } from '../../../src/runtime/kernels/index.js';
import { FrozenLinear } from '../../../src/runtime/model/matmul.js';
import { Nf4Weight } from '../../../src/runtime/quant/nf4-weight.js';
import { nf4KernelAvailable } from '../../../src/runtime/quant/nf4-kernel.js';
import { dequantize4bit, type QuantType, quantize4bit } from '../../../src/runtime/quant/quantize4bit.js';
import { seeded } from '../kernels/reference.js';

/** out [M, C] = a [M, inner] · op(w) in float64, op(w) = wᵀ when `transposed` (w is [rows, cols]). */
function reference(a: Float32Array, M: number, w: Float32Array, rows: number, cols: number, transposed: boolean): Float64Array {
  const inner = transposed ? cols : rows;
  const C = transposed ? rows : cols;
  const out = new Float64Array(M * C);
  for (let i = 0; i < M; i++) {
    for (let j = 0; j < C; j++) {
      let s = 0;
      for (let k = 0; k < inner; k++) s += a[i * inner + k] * (transposed ? w[j * cols + k] : w[k * cols + j]);
      out[i * C + j] = s;
    }
  }
  return out;
}

function assertClose(got: Float32Array, want: Float64Array, inner: number, what: string): void {
  assert.equal(got.length, want.length, `${what}: length`);
  // f32 sums of `inner` products of values in [-1, 1] times absmax ≤ 1.
  const tol = 2e-6 * inner + 1e-6;
  for (let i = 0; i < got.length; i++) {
    if (!(Math.abs(got[i] - want[i]) <= tol)) assert.fail(`${what}: element ${i} is ${got[i]}, expected ${want[i]} (±${tol})`);
  }
}

describe('NF4/FP4 wasm kernels', () => {
  before(async () => {
    await tf.setBackend('wasm');
    await tf.ready();
    assert.deepEqual(installWasmKernels(), { installed: true });
    assert.equal(nf4KernelAvailable(), true);
  });
  after(() => uninstallWasmKernels());

  // [M, K (in), N (out)]
  const shapes: Array<[number, number, number]> = [
    [1, 64, 8], [1, 7, 5], [1, 33, 3], [1, 130, 17], [3, 5, 7], [4, 64, 16], [5, 63, 9], [13, 17, 11], [2, 1, 1], [9, 300, 21],
    // Panel groups: N·K·4 past 1 MiB per group in the forward, M·... rows past one row block.
    [6, 1100, 260], [70, 96, 40],
  ];
  for (const type of ['nf4', 'fp4'] as QuantType[]) {
    for (const doubleQuant of [false, true]) {
      for (const [M, K, N] of shapes) {
        it(`${type}${doubleQuant ? ' double-quant' : ''} M=${M} K=${K} N=${N}: forward, input gradient`, () => {
          const w = seeded([N, K], N * 7 + K);
          const q = quantize4bit(w.data, [N, K], { type, doubleQuant });
          const wd = dequantize4bit(q);
          const x = seeded([M, K], M * 13 + K + 1).data;
          const dy = seeded([M, N], M * 5 + N + 2).data;
          const layer = new FrozenLinear(new Nf4Weight(q));
          const before = tf.memory().numTensors;
          const { y, dx } = tf.tidy(() => {
            const xt = tf.tensor2d(x, [M, K]);
            const { value, grads } = tf.valueAndGrads((t: tf.Tensor) => tf.sum(tf.mul(layer.apply(t as tf.Tensor2D), tf.tensor2d(dy, [M, N]))))([xt]);
            value.dispose();
            return { y: layer.apply(xt).dataSync() as Float32Array, dx: grads[0].dataSync() as Float32Array };
          });
          const dense = tf.tidy(() => layer.weight.dense().dataSync() as Float32Array);
          assert.equal(tf.memory().numTensors, before, 'no tensor leaks');
          layer.dispose();
          assertClose(y, reference(x, M, wd, N, K, true), K, 'y = x·Wᵀ');
          assertClose(dx, reference(dy, M, wd, N, K, false), N, 'dx = dy·W');
          assert.deepEqual(dense, wd, 'dense() is the dequantized weight, bit for bit');
        });
      }
    }
  }

  it('a weight of all-zero blocks gives zeros, not NaN', () => {
    const q = quantize4bit(new Float32Array(8 * 64), [8, 64], { type: 'nf4' });
    const layer = new FrozenLinear(new Nf4Weight(q));
    const got = tf.tidy(() => layer.apply(tf.ones([2, 64])).dataSync());
    layer.dispose();
    assert.deepEqual([...got], new Array(16).fill(0));
  });
});
