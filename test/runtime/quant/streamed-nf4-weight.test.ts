/**
 * StreamedNf4Weight (the 4-bit state on the host, staged into the wasm heap per product) against Nf4Weight (the
 * same state resident): the same kernel on the same inputs, so forward, input gradient and dense() must agree
 * bit for bit; Nf4Weight itself is checked against a float64 reference in nf4-kernel.test.ts. Beyond the
 * numbers: nothing uploaded outlives a product (numTensors, heap bytes), and a deep stack of streamed layers
 * trains in a heap that does not grow with its depth.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import * as tf from '../../../src/runtime/tf.js';
import '@tensorflow/tfjs-backend-wasm';
import { installWasmKernels, uninstallWasmKernels } from '../../../src/runtime/kernels/index.js';
import { FrozenLinear } from '../../../src/runtime/model/matmul.js';
import { Nf4Weight } from '../../../src/runtime/quant/nf4-weight.js';
import { nf4KernelAvailable } from '../../../src/runtime/quant/nf4-kernel.js';
import { type QuantType, quantize4bit } from '../../../src/runtime/quant/quantize4bit.js';
import { StreamedNf4Weight } from '../../../src/runtime/quant/streamed-nf4-weight.js';
import { seeded } from '../kernels/reference.js';

/** y = layer(x) and dx = ∂ sum(y·dy)/∂x, on the host. */
function forwardBackward(layer: FrozenLinear, x: Float32Array, dy: Float32Array, M: number): { y: Float32Array; dx: Float32Array } {
  return tf.tidy(() => {
    const xt = tf.tensor2d(x, [M, layer.inFeatures]);
    const f = (t: tf.Tensor) => tf.sum(tf.mul(layer.apply(t as tf.Tensor2D), tf.tensor2d(dy, [M, layer.outFeatures])));
    const { value, grads } = tf.valueAndGrads(f)([xt]);
    value.dispose();
    return { y: layer.apply(xt).dataSync() as Float32Array, dx: grads[0].dataSync() as Float32Array };
  });
}

const heapBytes = () => (tf.backend() as unknown as { wasm: { HEAPU8: Uint8Array } }).wasm.HEAPU8.length;

describe('StreamedNf4Weight', () => {
  before(async () => {
    await tf.setBackend('wasm');
    await tf.ready();
    assert.deepEqual(installWasmKernels(), { installed: true });
    assert.equal(nf4KernelAvailable(), true);
  });
  after(() => uninstallWasmKernels());

  // [M, K (in), N (out)]: the GEMV (M = 1), odd shapes (codes padded to words), panel groups past 1 MiB.
  const shapes: Array<[number, number, number]> = [[1, 130, 17], [5, 63, 9], [9, 300, 21], [6, 1100, 260], [70, 96, 40]];
  for (const type of ['nf4', 'fp4'] as QuantType[]) {
    for (const doubleQuant of [false, true]) {
      for (const [M, K, N] of shapes) {
        it(`${type}${doubleQuant ? ' double-quant' : ''} M=${M} K=${K} N=${N}: same outputs and gradients as Nf4Weight, bit for bit`, () => {
          const q = quantize4bit(seeded([N, K], N * 3 + K).data, [N, K], { type, doubleQuant });
          const x = seeded([M, K], M + 7 * K).data;
          const dy = seeded([M, N], M * 11 + N).data;
          const resident = new FrozenLinear(new Nf4Weight(q));
          const streamedWeight = new StreamedNf4Weight(q);
          const streamed = new FrozenLinear(streamedWeight);
          const tensors = tf.memory().numTensors;
          const bytes = tf.memory().numBytes;
          const want = forwardBackward(resident, x, dy, M);
          const got = forwardBackward(streamed, x, dy, M);
          const denseWant = tf.tidy(() => resident.weight.dense().dataSync() as Float32Array);
          const denseGot = tf.tidy(() => streamed.weight.dense().dataSync() as Float32Array);
          assert.equal(tf.memory().numTensors, tensors, 'no tensor leaks');
          assert.equal(tf.memory().numBytes, bytes, 'nothing staged stays in the backend');
          assert.equal(streamedWeight.byteSize, 0);
          assert.ok(streamedWeight.hostBytes >= Math.ceil((N * K) / 2) + 4 * Math.ceil((N * K) / 64), 'the state is on the host');
          resident.dispose();
          streamed.dispose();
          assert.deepEqual(got.y, want.y, 'forward');
          assert.deepEqual(got.dx, want.dx, 'input gradient');
          assert.deepEqual(denseGot, denseWant, 'dense()');
        });
      }
    }
  }

  it('the backend holds no weight at rest, and the heap does not grow with the number of layers', () => {
    const [M, K] = [16, 2048];
    const stack = (layers: number) => Array.from({ length: layers }, (_, i) =>
      new FrozenLinear(new StreamedNf4Weight(quantize4bit(seeded([K, K], 100 + i).data, [K, K], { type: 'nf4', doubleQuant: true }))));
    // Forward and backward through every layer, from a trainable input so the tape spans them all.
    const trainThrough = (layers: FrozenLinear[]): number => {
      const x = tf.variable(tf.tensor2d(seeded([M, K], 5).data, [M, K]));
      const before = tf.memory().numTensors;
      const g = tf.tidy(() => {
        const { value, grads } = tf.variableGrads(() => {
          let h: tf.Tensor2D = x;
          for (const l of layers) h = tf.tanh(l.apply(h));
          return tf.sum(h) as tf.Scalar;
        }, [x]);
        value.dispose();
        return grads[x.name]!.dataSync()[0]!;
      });
      assert.equal(tf.memory().numTensors, before, 'no tensor outlives the step');
      x.dispose();
      return g;
    };
    const shallow = stack(1);
    assert.ok(Number.isFinite(trainThrough(shallow)));
    const heapAfterShallow = heapBytes();
    const bytesAtRest = tf.memory().numBytes;
    const deep = stack(16);
    assert.equal(tf.memory().numBytes, bytesAtRest, 'streamed weights hold nothing in the backend');
    for (let step = 0; step < 2; step++) assert.ok(Number.isFinite(trainThrough(deep)));
    // 16 layers of 2.25 MiB of codes and scales pass through the heap one at a time (held resident they would
    // take 36 MiB); the activations the tape keeps are 16 × 128 KiB.
    const grown = heapBytes() - heapAfterShallow;
    const deepWeights = deep.reduce((a, l) => a + (l.weight as StreamedNf4Weight).stagingBytes, 0);
    assert.ok(grown < deepWeights / 2, `heap grew by ${grown} bytes for ${deepWeights} bytes of streamed weights`);
    for (const l of [...shallow, ...deep]) l.dispose();
  });
});
