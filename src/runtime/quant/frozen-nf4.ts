/**
 * A frozen linear layer y = x Wᵀ (+ b) whose weight stays 4-bit on the device: bitsandbytes' packed codes
 * (an int32 tensor over the bytes), the f32 absmax per block (rebuilt once from the double-quantized state,
 * 1/16 byte per weight) and the code tables. Forward and the input gradient run Nf4MatMul (nf4-kernel.ts),
 * which decodes the weight panel by panel; no gradient is computed for W.
 *
 * Only on the wasm backend with ftc's kernels; elsewhere the loader dequantizes to f32 instead (the same
 * numbers: code · absmax in f32 is exactly what the kernel computes).
 */
import * as tf from '../tf.js';
import { nf4Product, nf4Tables } from './nf4-kernel.js';
import { blockAbsmax, dequantize4bit, type Quantized4bit } from './quantize4bit.js';

export class FrozenNf4 {
  readonly inFeatures: number;
  readonly outFeatures: number;
  private readonly packed: tf.Tensor1D;
  private readonly absmax: tf.Tensor1D;
  private readonly tables: tf.Tensor1D;
  private readonly shift: number;
  private readonly product: (x: tf.Tensor2D) => tf.Tensor2D;

  constructor(
    /** The host quantized weight (kept for dequantization on demand: export, DoRA's weight norm). */
    readonly quantized: Quantized4bit,
    /** [out]; a tf.Variable when the bias is trained. */
    public bias?: tf.Tensor1D,
  ) {
    [this.outFeatures, this.inFeatures] = quantized.shape;
    this.shift = Math.log2(quantized.blocksize);
    const bytes = new Uint8Array(Math.ceil(quantized.packed.length / 4) * 4);
    bytes.set(quantized.packed);
    this.packed = tf.tensor1d(new Int32Array(bytes.buffer), 'int32');
    this.absmax = tf.tensor1d(blockAbsmax(quantized), 'float32');
    this.tables = tf.tensor1d(nf4Tables(quantized.code), 'float32');
    this.product = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => ({
      value: this.run(args[0] as tf.Tensor2D, 'forward'),
      gradFunc: (dy: tf.Tensor): tf.Tensor => this.backward(dy as tf.Tensor2D),
    })) as unknown as (x: tf.Tensor2D) => tf.Tensor2D;
  }

  private run(x: tf.Tensor2D, direction: 'forward' | 'backward'): tf.Tensor2D {
    const w = { packed: this.packed, absmax: this.absmax, tables: this.tables };
    return nf4Product(x, w, { N: this.outFeatures, K: this.inFeatures, shift: this.shift, direction });
  }

  /** dy [N, out] → dy·W [N, in]. */
  backward(dy: tf.Tensor2D): tf.Tensor2D {
    return this.run(dy, 'backward');
  }

  /** x [N, in] → [N, out]. */
  apply(x: tf.Tensor2D): tf.Tensor2D {
    const y = this.product(x);
    return this.bias ? tf.add(y, this.bias) : y;
  }

  /** W [out, in] dequantized, as a new tensor the caller disposes. */
  dequantized(): tf.Tensor2D {
    return tf.tensor2d(dequantize4bit(this.quantized), [this.outFeatures, this.inFeatures]);
  }

  dispose(): void {
    tf.dispose([this.packed, this.absmax, this.tables]);
    if (this.bias) this.bias.dispose();
  }
}
