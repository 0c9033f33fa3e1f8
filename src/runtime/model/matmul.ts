import * as tf from '../tf.js';
import { wasmKernelsInstalled } from '../kernels/index.js';

/**
 * Matrix products shaped for the backends' fast path.
 *
 * tfjs-backend-wasm runs a plain 2-D matMul about ten times faster than one with transposeA/transposeB
 * or batch dimensions (measured here: 16 against 1.7-2.3 GFLOP/s at [512,256]x[256,256]). tfjs' built-in
 * matMul gradient is exactly such a transposed product, so every product in the model goes through one of
 * the two functions below, whose forward AND backward are plain 2-D matMuls: operands that need a
 * transpose are either stored transposed once (frozen weights) or transposed explicitly (small tensors).
 * With ftc's SIMD kernels installed on wasm (src/runtime/kernels, installed by backend.ts) transposed and
 * batched products run as fast as plain ones, so frozen weights no longer need their transposed copy.
 */

/** a [M,K] × b [K,N] → [M,N]; gradients da = dy bᵀ, db = aᵀ dy, each a plain 2-D product. */
export const matMul2d: (a: tf.Tensor2D, b: tf.Tensor2D) => tf.Tensor2D = tf.customGrad(
  (...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
    const [a, b, save] = args as [tf.Tensor2D, tf.Tensor2D, tf.GradSaveFunc];
    save([a, b]);
    return {
      value: tf.matMul(a as tf.Tensor2D, b as tf.Tensor2D),
      gradFunc: (dy: tf.Tensor, [sa, sb]: tf.Tensor[]): tf.Tensor[] =>
        transposeIsSlow()
          ? [
              tf.matMul(dy as tf.Tensor2D, tf.transpose(sb) as tf.Tensor2D), // [M,N]×[N,K]
              tf.matMul(tf.transpose(sa) as tf.Tensor2D, dy as tf.Tensor2D), // [K,M]×[M,N]
            ]
          : // The transposes are free strides in ftc's kernels and the native backends: no [M,K] copy of a.
            [tf.matMul(dy as tf.Tensor2D, sb as tf.Tensor2D, false, true), tf.matMul(sa as tf.Tensor2D, dy as tf.Tensor2D, true, false)],
    };
  },
) as unknown as (a: tf.Tensor2D, b: tf.Tensor2D) => tf.Tensor2D;

/** True on the wasm backend without ftc's kernels, whose built-in transposed matMul is the slow path. */
function transposeIsSlow(): boolean {
  return tf.getBackend() === 'wasm' && !wasmKernelsInstalled();
}

/**
 * A frozen linear layer y = x Wᵀ (+ b), W [out,in] as Hugging Face stores it. The forward product is
 * x·Wᵀ (transposeB) and the backward one dx = dy·W; no gradient is ever computed for W (it is not an
 * input of the custom gradient). Where transposeB is slow — the wasm backend's built-in matMul, without
 * ftc's kernels — a transposed copy `wT` [in,out] is made once at load and the forward product reads it
 * plainly, at twice the weight memory; elsewhere (ftc's wasm kernels, native backends) W alone serves both.
 */
export class FrozenLinear {
  readonly inFeatures: number;
  readonly outFeatures: number;
  private readonly product: (x: tf.Tensor2D) => tf.Tensor2D;

  constructor(
    /** [out, in], as stored by Hugging Face. */
    readonly w: tf.Tensor2D,
    /** [in, out], the transposed copy for the forward product, where transposeB is slow. */
    readonly wT: tf.Tensor2D | undefined,
    /** [out]; a tf.Variable when the bias is trained (lora bias = all | lora_only). */
    public bias?: tf.Tensor1D,
  ) {
    [this.outFeatures, this.inFeatures] = w.shape;
    const forward = (x: tf.Tensor2D) => (this.wT ? tf.matMul(x, this.wT) : tf.matMul(x, this.w, false, true)); // [N,in]×[in,out]
    this.product = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => ({
      value: forward(args[0] as tf.Tensor2D),
      gradFunc: (dy: tf.Tensor): tf.Tensor => this.backward(dy as tf.Tensor2D),
    })) as unknown as (x: tf.Tensor2D) => tf.Tensor2D;
  }

  /** Wraps the Hugging Face [out, in] weight, with a transposed copy only where the backend needs one. */
  static fromWeight(w: tf.Tensor2D, bias?: tf.Tensor1D): FrozenLinear {
    return new FrozenLinear(w, transposeIsSlow() ? tf.keep(tf.transpose(w)) : undefined, bias);
  }

  /** dy [N, out] → dy·W [N, in], the product the backward pass of `apply` runs. */
  backward(dy: tf.Tensor2D): tf.Tensor2D {
    return tf.matMul(dy, this.w); // [N,out]×[out,in]
  }

  /** Rows of W for indices [n] into the outputs → [n, in] (the loss's target correction). */
  rows(indices: tf.Tensor1D): tf.Tensor2D {
    return tf.gather(this.w, indices);
  }

  /** x [N, in] → [N, out]. */
  apply(x: tf.Tensor2D): tf.Tensor2D {
    const y = this.product(x);
    return this.bias ? tf.add(y, this.bias) : y;
  }

  dispose(): void {
    tf.dispose(this.wT ? [this.w, this.wT] : [this.w]);
    if (this.bias) this.bias.dispose();
  }
}
