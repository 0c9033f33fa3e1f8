import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as tf from '../../../src/runtime/tf.js';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
import { installWasmKernels, uninstallWasmKernels, wasmKernelsInstalled } from '../../../src/runtime/kernels/index.js';
import { naiveMatMul, seeded, type Operand } from './reference.js';

/** Largest |x - y| relative to the magnitude of the expected values (K-term sums of values in [-1,1)). */
function assertClose(actual: Float32Array, expected: Operand, what: string): void {
  assert.equal(actual.length, expected.data.length, `${what}: length`);
  let scale = 1;
  for (const v of expected.data) scale = Math.max(scale, Math.abs(v));
  for (let i = 0; i < actual.length; i++) {
    const diff = Math.abs(actual[i] - expected.data[i]);
    if (!(diff <= 1e-5 * scale + 1e-5)) {
      assert.fail(`${what}: element ${i} is ${actual[i]}, expected ${expected.data[i]}`);
    }
  }
}

function runMatMul(a: Operand, b: Operand, transposeA: boolean, transposeB: boolean) {
  return tf.tidy(() => {
    const c = tf.matMul(tf.tensor(a.data, a.shape), tf.tensor(b.data, b.shape), transposeA, transposeB);
    return { shape: c.shape, data: c.dataSync() as Float32Array };
  });
}

/** Stored shapes for op(A) = [..., M, K] and op(B) = [..., K, N]. */
function shapesFor(outerA: number[], outerB: number[], M: number, K: number, N: number, tA: boolean, tB: boolean) {
  return [[...outerA, ...(tA ? [K, M] : [M, K])], [...outerB, ...(tB ? [N, K] : [K, N])]];
}

/**
 * tfjs-core's Node bundle registers no gradients (the `@tensorflow/tfjs` union package does). When nothing
 * else in the process has registered matMul's, register tfjs-core's own rule (BatchMatMul_grad.ts):
 * each input's gradient is a matMul of dy with the other input, transposed as needed.
 */
function ensureMatMulGradient(): void {
  if (tf.getGradient(tf.BatchMatMul)) return;
  tf.registerGradient({
    kernelName: tf.BatchMatMul,
    inputsToSave: ['a', 'b'],
    gradFunc: (dy, saved, attrs) => {
      const [a, b] = saved;
      const { transposeA, transposeB } = attrs as unknown as { transposeA: boolean; transposeB: boolean };
      const g = dy as tf.Tensor;
      if (!transposeA && !transposeB) return { a: () => tf.matMul(g, b, false, true), b: () => tf.matMul(a, g, true, false) };
      if (!transposeA) return { a: () => tf.matMul(g, b, false, false), b: () => tf.matMul(g, a, true, false) };
      if (!transposeB) return { a: () => tf.matMul(b, g, false, true), b: () => tf.matMul(a, g, false, false) };
      return { a: () => tf.matMul(b, g, true, true), b: () => tf.matMul(g, a, true, true) };
    },
  });
}

describe('wasm BatchMatMul kernel', () => {
  before(async () => {
    await tf.setBackend('wasm');
    await tf.ready();
    const result = installWasmKernels();
    assert.deepEqual(result, { installed: true });
  });
  after(() => uninstallWasmKernels());

  const sizes: Array<[number, number, number]> = [
    [1, 1, 1], [1, 7, 5], [3, 5, 7], [4, 8, 8], [5, 3, 9], [13, 17, 11], [33, 1, 19], [64, 64, 64], [7, 130, 3],
    // K beyond one K block (256): later blocks accumulate into C, including tail rows and a partial panel.
    [7, 600, 13], [8, 257, 16],
  ];
  for (const [M, K, N] of sizes) {
    for (const tA of [false, true]) {
      for (const tB of [false, true]) {
        it(`2-D M=${M} K=${K} N=${N} transposeA=${tA} transposeB=${tB}`, () => {
          const [as, bs] = shapesFor([], [], M, K, N, tA, tB);
          const a = seeded(as, M * 31 + K);
          const b = seeded(bs, N * 17 + K + 5);
          const expected = naiveMatMul(a, b, tA, tB);
          const got = runMatMul(a, b, tA, tB);
          assert.deepEqual(got.shape, expected.shape);
          assertClose(got.data, expected, 'matMul');
        });
      }
    }
  }

  const batched: Array<{ outerA: number[]; outerB: number[]; M: number; K: number; N: number }> = [
    { outerA: [3], outerB: [3], M: 5, K: 6, N: 7 },
    { outerA: [4], outerB: [1], M: 9, K: 5, N: 10 },      // B broadcast over A's batch
    { outerA: [1], outerB: [4], M: 6, K: 3, N: 9 },       // A broadcast over B's batch
    { outerA: [2, 3], outerB: [], M: 5, K: 4, N: 3 },    // rank-2 B against a rank-4 A
    { outerA: [2, 1], outerB: [1, 3], M: 3, K: 5, N: 4 }, // both broadcast
  ];
  for (const { outerA, outerB, M, K, N } of batched) {
    for (const [tA, tB] of [[false, false], [true, false], [false, true], [true, true]] as const) {
      it(`batched [${outerA}]×[${outerB}] M=${M} K=${K} N=${N} tA=${tA} tB=${tB}`, () => {
        const [as, bs] = shapesFor(outerA, outerB, M, K, N, tA, tB);
        const a = seeded(as, 7 + M);
        const b = seeded(bs, 11 + N);
        const expected = naiveMatMul(a, b, tA, tB);
        const got = runMatMul(a, b, tA, tB);
        assert.deepEqual(got.shape, expected.shape);
        assertClose(got.data, expected, 'batched matMul');
      });
    }
  }

  it('attention shapes: scores [32,128,32]·[32,128,32]ᵀ and values [32,128,128]·[32,128,32]', () => {
    const q = seeded([32, 128, 32], 1);
    const k = seeded([32, 128, 32], 2);
    const scores = naiveMatMul(q, k, false, true);
    assertClose(runMatMul(q, k, false, true).data, scores, 'q·kᵀ');
    const kt = seeded([32, 32, 128], 3);
    assertClose(runMatMul(q, kt, false, false).data, naiveMatMul(q, kt, false, false), '[32,128,32]×[32,32,128]');
    const p = seeded([32, 128, 128], 4);
    assertClose(runMatMul(p, q, false, false).data, naiveMatMul(p, q, false, false), 'p·v');
  });

  it('a B wider than the packing block (K·N·4 > 16 MiB) is packed and multiplied a block of columns at a time', () => {
    // K = 4096 packs 1024 columns per block: N = 2051 takes blocks of 1024, 1024 and 3 (a partial panel).
    for (const transposeB of [false, true]) {
      const [M, K, N] = [5, 4096, 2051];
      const a = seeded([M, K], 21);
      const b = seeded(transposeB ? [N, K] : [K, N], 22);
      const got = runMatMul(a, b, false, transposeB);
      assertClose(got.data, naiveMatMul(a, b, false, transposeB), `blocked, transposeB=${transposeB}`);
    }
    // Batched with a broadcast B (the sharedB route) and a batch loop.
    const a3 = seeded([2, 3, 4096], 23);
    const b2 = seeded([4096, 1030], 24);
    assertClose(runMatMul(a3, b2, false, false).data, naiveMatMul(a3, b2, false, false), 'blocked, shared B');
    const b3 = seeded([2, 4096, 1030], 25);
    assertClose(runMatMul(a3, b3, false, false).data, naiveMatMul(a3, b3, false, false), 'blocked, batched B');
  });

  it('fewer than 4 rows read B in place (GEMV): odd K, N past the 1024-column block of the axpy path, batches', () => {
    for (const M of [1, 2, 3]) {
      for (const [K, N] of [[1, 1], [9, 1030], [131, 2053], [8, 7]]) {
        for (const tB of [false, true]) {
          for (const tA of M === 1 ? [false, true] : [false]) {
            const [as, bs] = shapesFor([], [], M, K, N, tA, tB);
            const a = seeded(as, M + K);
            const b = seeded(bs, N + 3);
            assertClose(runMatMul(a, b, tA, tB).data, naiveMatMul(a, b, tA, tB), `gemv M=${M} K=${K} N=${N} tA=${tA} tB=${tB}`);
          }
        }
      }
    }
    // Decoding attention: one query per head against a head's keys ([H,1,d]·[H,S,d]ᵀ) and values, and a B shared by batches.
    const q = seeded([14, 1, 64], 31);
    const k = seeded([14, 37, 64], 32);
    assertClose(runMatMul(q, k, false, true).data, naiveMatMul(q, k, false, true), 'q·kᵀ, one query');
    const p = seeded([14, 1, 37], 33);
    assertClose(runMatMul(p, k, false, false).data, naiveMatMul(p, k, false, false), 'p·v, one query');
    const w = seeded([64, 9], 34);
    assertClose(runMatMul(q, w, false, false).data, naiveMatMul(q, w, false, false), 'shared B, one row per batch');
  });

  it('empty inner dimension gives zeros and empty outer dimensions give empty results', () => {
    const zeros = runMatMul({ shape: [3, 0], data: new Float32Array(0) }, { shape: [0, 2], data: new Float32Array(0) }, false, false);
    assert.deepEqual(zeros.shape, [3, 2]);
    assert.deepEqual(Array.from(zeros.data), [0, 0, 0, 0, 0, 0]);
    const empty = runMatMul({ shape: [0, 4], data: new Float32Array(0) }, seeded([4, 2], 3), false, false);
    assert.deepEqual(empty.shape, [0, 2]);
  });

  it('gradients through tf.grads equal the cpu backend', async () => {
    ensureMatMulGradient();
    const x = seeded([2, 5, 6], 21);
    const w = seeded([2, 6, 7], 22);
    const v = seeded([2, 7, 5], 23);
    const dy = seeded([2, 6, 5], 24);
    // Every transpose combination appears, forward and backward.
    const g = (xs: tf.Tensor, ws: tf.Tensor) => {
      const h = tf.matMul(xs, ws);                            // [2,5,7]
      const s = tf.matMul(h, tf.tensor(v.data, v.shape));      // [2,5,5]
      const t = tf.matMul(s, xs, true, false);                 // [2,5,6]
      const u = tf.matMul(ws, t, true, true);                  // [2,7,5]
      return tf.matMul(xs, tf.matMul(h, u), true, false);      // [2,6,5]
    };
    const grads = () => tf.tidy(() => {
      const out = tf.grads(g)([tf.tensor(x.data, x.shape), tf.tensor(w.data, w.shape)], tf.tensor(dy.data, dy.shape));
      return out.map((t) => t.dataSync() as Float32Array);
    });
    const fast = grads();
    await tf.setBackend('cpu');
    const reference = grads();
    await tf.setBackend('wasm');
    assert.ok(wasmKernelsInstalled());
    for (let i = 0; i < fast.length; i++) {
      assertClose(fast[i], { shape: [], data: reference[i] }, `gradient ${i}`);
    }
  });

  it('stays correct after the backend heap grows', () => {
    const backend = tf.backend() as unknown as { wasm: { HEAPU8: Uint8Array } };
    const before = backend.wasm.HEAPU8.buffer.byteLength;
    const big = tf.zeros([48 * 1024 * 1024 / 4 + before / 4]);       // more than the whole current heap
    try {
      assert.ok(backend.wasm.HEAPU8.buffer.byteLength > before, 'the heap grew');
      const a = seeded([3, 37, 29], 5);
      const b = seeded([29, 41], 6);
      assertClose(runMatMul(a, b, false, false).data, naiveMatMul(a, b, false, false), 'after growth');
      assertClose(runMatMul(b, a, true, true).data, naiveMatMul(b, a, true, true), 'after growth, transposed');
    } finally {
      big.dispose();
    }
  });

  it('leaks no tensors', () => {
    const a = tf.tensor(seeded([4, 9, 8], 1).data, [4, 9, 8]);
    const b = tf.tensor(seeded([4, 9, 8], 2).data, [4, 9, 8]);
    const once = () => tf.tidy(() => tf.sum(tf.matMul(a, b, false, true)).dataSync());
    once();
    const start = tf.memory().numTensors;
    for (let i = 0; i < 10; i++) once();
    assert.equal(tf.memory().numTensors, start);
    tf.dispose([a, b]);
  });

  it('leaves non-float32 inputs to the built-in kernel', () => {
    // The built-in wasm BatchMatMul rejects int32; the fallback must keep that behaviour, not misread ints.
    assert.throws(() => tf.matMul(tf.tensor2d([[1, 2]], [1, 2], 'int32'), tf.tensor2d([[3], [4]], [2, 1], 'int32')),
      /not yet supported/);
  });

  it('the compiled module imports memory and carries no data segment that would overwrite the heap', () => {
    const bytes = readFileSync(new URL('../../../kernels/matmul.wasm', import.meta.url));
    const sections: number[] = [];
    let p = 8;
    while (p < bytes.length) {
      const id = bytes[p++];
      let size = 0;
      for (let shift = 0; ; shift += 7) {
        const byte = bytes[p++];
        size |= (byte & 0x7f) << shift;
        if (!(byte & 0x80)) break;
      }
      sections.push(id);
      p += size;
    }
    assert.ok(sections.includes(2), 'has an import section');
    assert.ok(!sections.includes(5), 'defines no memory of its own');
    assert.ok(!sections.includes(11), 'has no data section');
  });
});

describe('installWasmKernels on another backend', () => {
  it('is a no-op with a reason', async () => {
    await tf.setBackend('cpu');
    const result = installWasmKernels();
    assert.equal(result.installed, false);
    assert.match(result.reason ?? '', /cpu/);
  });
});
