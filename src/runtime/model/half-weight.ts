import * as tf from '../tf.js';
import { HALF_BACKWARD, HALF_DENSE, HALF_FORWARD, HALF_ROWS, type HalfAttrs } from '../kernels/half-matmul.js';
import type { HalfValues } from './api.js';
import type { FrozenWeight } from './frozen-weight.js';

/**
 * W [out, in] kept as its checkpoint's 16-bit values (bf16 or f16) in the wasm heap, half the memory of
 * float32: an int32 tfjs tensor of packed pairs (tfjs has no 16-bit dtype), so the engine owns, counts and
 * frees it like any tensor. Only ftc's wasm kernels read it (kernels/half-matmul.ts), widening inside the
 * product; one stored copy serves the forward, backward, row and dense reads.
 */
export class HalfWeight implements FrozenWeight {
  readonly format: 'bf16' | 'f16';
  private readonly words: tf.Tensor1D;
  private readonly attrs: HalfAttrs;

  constructor(
    readonly outFeatures: number,
    readonly inFeatures: number,
    half: HalfValues,
  ) {
    const count = outFeatures * inFeatures;
    if (half.bits.length < count) throw new Error(`16-bit weight [${outFeatures}, ${inFeatures}] given ${half.bits.length} values`);
    this.format = half.format;
    this.attrs = { format: half.format, outFeatures, inFeatures };
    const nWords = Math.ceil(count / 2);
    // A view when the host buffer allows one (safetensors.ts pads to an even length); otherwise one copy.
    const aligned = half.bits.byteOffset % 4 === 0 && half.bits.length >= 2 * nWords;
    const words = aligned ? new Int32Array(half.bits.buffer, half.bits.byteOffset, nWords) : copyWords(half.bits, count, nWords);
    this.words = tf.tensor1d(words, 'int32'); // copied into the heap here: the host array can go
  }

  get byteSize(): number {
    return this.words.size * 4;
  }

  forward(x: tf.Tensor2D): tf.Tensor2D {
    return this.run(HALF_FORWARD, { x }); // [M,in] → [M,out]
  }

  backward(dy: tf.Tensor2D): tf.Tensor2D {
    return this.run(HALF_BACKWARD, { dy }); // [M,out] → [M,in]
  }

  rows(indices: tf.Tensor1D): tf.Tensor2D {
    return this.run(HALF_ROWS, { indices: indices.dtype === 'int32' ? indices : tf.cast(indices, 'int32') }); // [n, in]
  }

  dense(): tf.Tensor2D {
    return this.run(HALF_DENSE, {}); // [out, in]
  }

  dispose(): void {
    this.words.dispose();
  }

  private run(kernel: string, inputs: Record<string, tf.Tensor>): tf.Tensor2D {
    return tf.engine().runKernel(kernel, { ...inputs, w: this.words }, this.attrs as unknown as tf.NamedAttrMap) as tf.Tensor2D;
  }
}

function copyWords(bits: Uint16Array, count: number, nWords: number): Int32Array {
  const padded = new Uint16Array(2 * nWords);
  padded.set(bits.subarray(0, count));
  return new Int32Array(padded.buffer);
}
