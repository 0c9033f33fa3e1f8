/**
 * A frozen weight that stays 4-bit on the device (a FrozenWeight, src/runtime/model/frozen-weight.ts):
 * bitsandbytes' packed codes (an int32 tensor over the bytes), the f32 absmax per block (rebuilt once from the
 * double-quantized state: 1/16 byte per weight) and the code tables. Both products run Nf4MatMul
 * (nf4-kernel.ts), which decodes the weight panel by panel; FrozenLinear supplies the custom gradient.
 *
 * Only on the wasm backend with ftc's kernels (nf4KernelAvailable); elsewhere the loader uploads the
 * dequantized weight as an F32Weight instead: the same numbers, since code · absmax in f32 is exactly what
 * the kernel computes.
 */
import type { FrozenWeight } from '../model/frozen-weight.js';
import * as tf from '../tf.js';
import { nf4KernelAvailable, nf4Product, nf4Tables } from './nf4-kernel.js';
import { blockAbsmax, type QuantType, type Quantized4bit } from './quantize4bit.js';

export class Nf4Weight implements FrozenWeight {
  readonly format: QuantType;
  readonly inFeatures: number;
  readonly outFeatures: number;
  private readonly packed: tf.Tensor1D;
  private readonly absmax: tf.Tensor1D;
  private readonly tables: tf.Tensor1D;
  private readonly shift: number;

  constructor(q: Quantized4bit) {
    if (q.shape.length !== 2) throw new Error(`Nf4Weight: a linear weight is [out, in], got [${q.shape}]`);
    if (!nf4KernelAvailable()) throw new Error('Nf4Weight needs the wasm backend with ftc\'s kernels installed (frozen4bit falls back to f32 elsewhere)');
    this.format = q.quantType;
    [this.outFeatures, this.inFeatures] = q.shape;
    this.shift = Math.log2(q.blocksize);
    // Padded to whole int32 words: the GEMV reads four bytes at a time.
    const bytes = new Uint8Array(Math.ceil(q.packed.length / 4) * 4);
    bytes.set(q.packed);
    this.packed = tf.tensor1d(new Int32Array(bytes.buffer), 'int32');
    this.absmax = tf.tensor1d(blockAbsmax(q), 'float32');
    this.tables = tf.tensor1d(nf4Tables(q.code), 'float32');
  }

  get byteSize(): number {
    return 4 * (this.packed.size + this.absmax.size + this.tables.size);
  }

  private run(x: tf.Tensor2D, direction: 'forward' | 'backward' | 'dense'): tf.Tensor2D {
    const w = { packed: this.packed, absmax: this.absmax, tables: this.tables };
    return nf4Product(x, w, { N: this.outFeatures, K: this.inFeatures, shift: this.shift, direction });
  }

  forward(x: tf.Tensor2D): tf.Tensor2D {
    return this.run(x, 'forward'); // [M,in] → [M,out]
  }

  backward(dy: tf.Tensor2D): tf.Tensor2D {
    return this.run(dy, 'backward'); // [M,out] → [M,in]
  }

  /** Never on the hot path (the LM head, whose rows the loss reads, is not quantized): via the dense weight. */
  rows(indices: tf.Tensor1D): tf.Tensor2D {
    return tf.tidy(() => tf.gather(this.dense(), indices));
  }

  /** W [out, in] decoded by the kernel into a fresh tensor (DoRA's row norms). */
  dense(): tf.Tensor2D {
    return this.run(this.tables as unknown as tf.Tensor2D, 'dense');
  }

  dispose(): void {
    tf.dispose([this.packed, this.absmax, this.tables]);
  }
}
