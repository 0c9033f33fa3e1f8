import * as tf from '../tf.js';
import { wasmKernelsInstalled } from '../kernels/index.js';
import type { HostTensor } from './api.js';
import { HalfWeight } from './half-weight.js';

/**
 * How a frozen linear layer holds its weight W [out, in] (Hugging Face's orientation).
 *
 * The model needs three things from a frozen W, and nothing else: the forward product x·Wᵀ, the backward
 * product dy·W (the input gradient; W itself gets none), and a few of its rows (the loss's target
 * correction). Behind this interface W may live as float32 tensors (the generic tfjs path, every backend) or
 * as packed 16-bit or quantized words in the wasm heap that only ftc's kernels read (half-weight.ts); one
 * stored copy serves every product. FrozenLinear (matmul.ts) adds the bias and the custom gradient.
 */

/** Storage formats: `f32` is a tfjs float32 tensor; the others are words only ftc's wasm kernels decode (nf4/fp4: src/runtime/quant/nf4-weight.ts). */
export type FrozenFormat = 'f32' | 'bf16' | 'f16' | 'nf4' | 'fp4';

export interface FrozenWeight {
  readonly format: FrozenFormat;
  /** N, the rows of W. */
  readonly outFeatures: number;
  /** K, the columns of W. */
  readonly inFeatures: number;
  /** Backend memory this weight holds, in bytes (a transposed copy included). */
  readonly byteSize: number;
  /** x [M, in] → x·Wᵀ [M, out], float32. Not differentiable by itself: FrozenLinear supplies the gradient. */
  forward(x: tf.Tensor2D): tf.Tensor2D;
  /** dy [M, out] → dy·W [M, in], float32 (the input gradient of `forward`). */
  backward(dy: tf.Tensor2D): tf.Tensor2D;
  /** int32 indices [n] into the outputs → those rows of W [n, in], float32. */
  rows(indices: tf.Tensor1D): tf.Tensor2D;
  /**
   * W as float32 [out, in] (DoRA's row norms). Call it inside tf.tidy and never dispose the result yourself:
   * it may be the stored tensor itself (f32) or a fresh widened copy that the enclosing tidy frees.
   */
  dense(): tf.Tensor2D;
  dispose(): void;
}

/**
 * W as a float32 tfjs tensor: what every backend can run. Where transposeB is slow — the wasm backend's
 * built-in matMul, without ftc's kernels — a transposed copy `wT` [in, out] is made once and the forward
 * product reads it plainly, at twice the memory; elsewhere W alone serves both products.
 */
export class F32Weight implements FrozenWeight {
  readonly format = 'f32';
  readonly outFeatures: number;
  readonly inFeatures: number;
  /** [in, out], only where the backend needs it. */
  readonly wT: tf.Tensor2D | undefined;
  private readonly owned: boolean;

  constructor(
    /** [out, in]; may be a trainable tf.Variable (TrainedLinear), which then gets no transposed copy. */
    readonly w: tf.Tensor2D,
    opts: {
      /** False when W belongs to someone else (lm_head tied to embed_tokens): dispose() leaves it alone. */
      owned?: boolean;
      /** Make the transposed copy where the backend needs it (never for a weight that changes). */
      transposedCopy?: boolean;
    } = {},
  ) {
    [this.outFeatures, this.inFeatures] = w.shape;
    this.owned = opts.owned ?? true;
    this.wT = (opts.transposedCopy ?? true) && transposeIsSlow() ? tf.keep(tf.transpose(w)) : undefined;
  }

  get byteSize(): number {
    return 4 * this.outFeatures * this.inFeatures * (this.wT ? 2 : 1);
  }

  forward(x: tf.Tensor2D): tf.Tensor2D {
    return this.wT ? tf.matMul(x, this.wT) : tf.matMul(x, this.w, false, true); // [N,in]×[in,out]
  }

  backward(dy: tf.Tensor2D): tf.Tensor2D {
    return tf.matMul(dy, this.w); // [N,out]×[out,in]
  }

  rows(indices: tf.Tensor1D): tf.Tensor2D {
    return tf.gather(this.w, indices);
  }

  dense(): tf.Tensor2D {
    return this.w;
  }

  dispose(): void {
    if (this.owned) this.w.dispose();
    this.wT?.dispose();
  }
}

/** True on the wasm backend without ftc's kernels, whose built-in transposed matMul is the slow path. */
export function transposeIsSlow(): boolean {
  return tf.getBackend() === 'wasm' && !wasmKernelsInstalled();
}

/**
 * Uploads a host weight [out, in] in the smallest format the active backend multiplies: its 16-bit values as
 * they are where ftc's wasm kernels run (HostTensor.half, kept by loadWeights), float32 everywhere else (the
 * cpu and native backends; a 16-bit host tensor is widened here, one tensor at a time).
 */
export function uploadFrozenWeight(host: HostTensor): FrozenWeight {
  const [out, inFeatures] = host.shape as [number, number];
  if (host.half && halfKernelsAvailable()) return new HalfWeight(out, inFeatures, host.half);
  return new F32Weight(tf.tensor2d(host.data, [out, inFeatures]));
}

/** True where 16-bit weights stay 16-bit: the wasm backend with ftc's kernels installed. */
export function halfKernelsAvailable(): boolean {
  return tf.getBackend() === 'wasm' && wasmKernelsInstalled();
}
