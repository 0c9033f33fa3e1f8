import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '../../../src/runtime/tf.js';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
import { installWasmKernels, uninstallWasmKernels } from '../../../src/runtime/kernels/index.js';
import { decodeBf16, decodeF16, encodeBf16, encodeF16 } from '../../../src/runtime/model/half.js';
import { HalfWeight } from '../../../src/runtime/model/half-weight.js';
import { FrozenLinear } from '../../../src/runtime/model/matmul.js';
import { seeded } from './reference.js';

type Format = 'bf16' | 'f16';

/** W [N, K] as 16-bit patterns and their exact values (decoded by half.ts's reference decoders), plus some f16 subnormals and zeros. */
function halfWeight(N: number, K: number, format: Format, seed: number): { bits: Uint16Array; values: Float64Array } {
  const src = seeded([N, K], seed).data;
  const bits = new Uint16Array(N * K);
  const values = new Float64Array(N * K);
  for (let i = 0; i < bits.length; i++) {
    // Every 11th value tiny (f16 subnormal range), every 13th zero or negative zero.
    const x = i % 13 === 0 ? (i % 26 === 0 ? 0 : -0) : i % 11 === 0 ? src[i]! * 3e-5 : src[i]! * 2;
    bits[i] = format === 'f16' ? encodeF16(x) : encodeBf16(x);
    values[i] = format === 'f16' ? decodeF16(bits[i]!) : decodeBf16(bits[i]!);
  }
  return { bits, values };
}

/** out[i, j] = Σ_k a[i, k]·b(j, k) in float64, and the bound Σ|terms| its float32 rounding error scales with. */
function reference(M: number, J: number, Kd: number, a: (i: number, k: number) => number, b: (j: number, k: number) => number) {
  const out = new Float64Array(M * J);
  const mag = new Float64Array(M * J);
  for (let i = 0; i < M; i++) {
    for (let j = 0; j < J; j++) {
      let s = 0;
      let m = 0;
      for (let k = 0; k < Kd; k++) {
        const t = a(i, k) * b(j, k);
        s += t;
        m += Math.abs(t);
      }
      out[i * J + j] = s;
      mag[i * J + j] = m;
    }
  }
  return { out, mag };
}

function assertClose(actual: Float32Array | Int32Array | Uint8Array, expected: { out: Float64Array; mag: Float64Array }, what: string): void {
  assert.equal(actual.length, expected.out.length, `${what}: length`);
  for (let i = 0; i < actual.length; i++) {
    const diff = Math.abs(actual[i]! - expected.out[i]!);
    if (!(diff <= 1e-5 * expected.mag[i]! + 1e-30)) assert.fail(`${what}: element ${i} is ${actual[i]}, expected ${expected.out[i]}`);
  }
}

describe('16-bit frozen weight kernels (wasm)', () => {
  before(async () => {
    await tf.setBackend('wasm');
    await tf.ready();
    assert.deepEqual(installWasmKernels(), { installed: true });
  });
  after(() => uninstallWasmKernels());

  // [M, K, N]: M=1..3 take the gemv path, M ≥ 4 the packed tiles; K and N off multiples of 8; the last two
  // exceed one 16 MiB block of packed panels (forward: K·N·4 > 16 MiB; backward likewise), so W is widened
  // a block of columns at a time.
  const sizes: Array<[number, number, number]> = [
    [1, 1, 1], [1, 13, 7], [2, 19, 33], [3, 8, 8], [4, 9, 17], [5, 37, 11], [9, 300, 21], [64, 130, 67], [130, 67, 129],
    [1, 2051, 2100], [9, 2051, 2100],
  ];
  for (const format of ['bf16', 'f16'] as const) {
    for (const [M, K, N] of sizes) {
      it(`${format} M=${M} K=${K} N=${N}: forward x·Wᵀ and backward dy·W equal the float64 products of the decoded values`, () => {
        const before = tf.memory().numTensors;
        const { bits, values } = halfWeight(N, K, format, 7 * N + K);
        const x = seeded([M, K], M + 3 * K).data;
        const dy = seeded([M, N], M + 5 * N).data;
        const w = new HalfWeight(N, K, { format, bits });
        assert.equal(w.byteSize, 4 * Math.ceil((N * K) / 2));
        const [y, dx] = tf.tidy(() => [w.forward(tf.tensor2d(x, [M, K])), w.backward(tf.tensor2d(dy, [M, N]))]);
        assert.deepEqual(y!.shape, [M, N]);
        assert.deepEqual(dx!.shape, [M, K]);
        assertClose(y!.dataSync() as Float32Array, reference(M, N, K, (i, k) => x[i * K + k]!, (n, k) => values[n * K + k]!), 'forward');
        assertClose(dx!.dataSync() as Float32Array, reference(M, K, N, (i, n) => dy[i * N + n]!, (k, n) => values[n * K + k]!), 'backward');
        tf.dispose([y!, dx!]);
        w.dispose();
        assert.equal(tf.memory().numTensors, before, 'no tensor outlives the products');
      });
    }

    it(`${format}: rows and dense widen exactly; an unaligned host array is copied, not misread`, () => {
      const [N, K] = [11, 5]; // N·K odd: the last word carries one padding value
      const { bits, values } = halfWeight(N, K, format, 3);
      const shifted = new Uint16Array(N * K + 1);
      shifted.set(bits, 1);
      const w = new HalfWeight(N, K, { format, bits: shifted.subarray(1) }); // byteOffset 2
      const rows = tf.tidy(() => w.rows(tf.tensor1d([10, 0, 3, 3], 'int32')));
      assert.deepEqual(Array.from(rows.dataSync()), [10, 0, 3, 3].flatMap((r) => Array.from(values.subarray(r * K, (r + 1) * K))));
      const dense = tf.tidy(() => w.dense());
      assert.deepEqual(Array.from(dense.dataSync()), Array.from(values));
      assert.throws(() => tf.tidy(() => w.rows(tf.tensor1d([11], 'int32'))), /outside \[0, 11\)/);
      tf.dispose([rows, dense]);
      w.dispose();
    });

    it(`${format}: FrozenLinear's gradient through a 16-bit weight is dy·W, with no leak over repeated steps`, () => {
      const [M, K, N] = [6, 21, 10];
      const { bits, values } = halfWeight(N, K, format, 11);
      const layer = new FrozenLinear(new HalfWeight(N, K, { format, bits }), tf.tensor1d(seeded([N], 2).data));
      const x = tf.tensor2d(seeded([M, K], 4).data, [M, K]);
      const g = seeded([M, N], 9).data;
      const gT = tf.tensor2d(g, [M, N]);
      const step = () => tf.tidy(() => tf.grad((xi: tf.Tensor) => tf.sum(tf.mul(layer.apply(xi as tf.Tensor2D), gT)))(x));
      const first = step();
      assertClose(first.dataSync() as Float32Array, reference(M, K, N, (i, n) => g[i * N + n]!, (k, n) => values[n * K + k]!), 'dx');
      first.dispose();
      const count = tf.memory().numTensors;
      for (let i = 0; i < 3; i++) step().dispose();
      assert.equal(tf.memory().numTensors, count, 'the same number of tensors after every step');
      layer.dispose();
      tf.dispose([x, gT]);
    });
  }
});
