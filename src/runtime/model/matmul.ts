import * as tf from '../tf.js';
import { F32Weight, transposeIsSlow, type FrozenWeight } from './frozen-weight.js';

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

/**
 * A frozen linear layer y = x Wᵀ (+ b), W [out,in] as Hugging Face stores it, held by a FrozenWeight
 * (frozen-weight.ts: float32 tensors, or 16-bit words read by ftc's wasm kernels). The forward product is
 * x·Wᵀ and the backward one dx = dy·W; no gradient is ever computed for W (it is not an input of the
 * custom gradient).
 */
export class FrozenLinear {
  readonly inFeatures: number;
  readonly outFeatures: number;
  private readonly product: (x: tf.Tensor2D) => tf.Tensor2D;

  constructor(
    readonly weight: FrozenWeight,
    /** [out]; a tf.Variable when the bias is trained (lora bias = all | lora_only). */
    public bias?: tf.Tensor1D,
  ) {
    this.outFeatures = weight.outFeatures;
    this.inFeatures = weight.inFeatures;
    this.product = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => ({
      value: this.weight.forward(args[0] as tf.Tensor2D),
      gradFunc: (dy: tf.Tensor): tf.Tensor => this.backward(dy as tf.Tensor2D),
    })) as unknown as (x: tf.Tensor2D) => tf.Tensor2D;
  }

  /** Wraps a float32 Hugging Face [out, in] weight, with a transposed copy only where the backend needs one. */
  static fromWeight(w: tf.Tensor2D, bias?: tf.Tensor1D): FrozenLinear {
    return new FrozenLinear(new F32Weight(w), bias);
  }

  /** dy [N, out] → dy·W [N, in], the product the backward pass of `apply` runs. */
  backward(dy: tf.Tensor2D): tf.Tensor2D {
    return this.weight.backward(dy);
  }

  /** Rows of W for indices [n] into the outputs → [n, in] (the loss's target correction). */
  rows(indices: tf.Tensor1D): tf.Tensor2D {
    return this.weight.rows(indices);
  }

  /** The Variable the optimizer updates when this layer's weight trains (TrainedLinear); none when frozen. */
  trainableWeight(): tf.Variable | undefined {
    return undefined;
  }

  /**
   * x [N, in] → [N, out] without the custom gradient, for paths autodiff never runs (decoding with a KV cache):
   * tfjs's customGrad wrapper cost about a fifth of a reference-model decode step.
   */
  infer(x: tf.Tensor2D): tf.Tensor2D {
    const y = this.weight.forward(x);
    return this.bias ? tf.add(y, this.bias) : y;
  }

  /** x [N, in] → [N, out]. */
  apply(x: tf.Tensor2D): tf.Tensor2D {
    const y = this.product(x);
    return this.bias ? tf.add(y, this.bias) : y;
  }

  dispose(): void {
    this.weight.dispose();
    if (this.bias) this.bias.dispose();
  }
}
