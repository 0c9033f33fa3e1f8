import * as tf from '../tf.js';

/**
 * Matrix products shaped for the backends' fast path.
 *
 * tfjs-backend-wasm runs a plain 2-D matMul about ten times faster than one with transposeA/transposeB
 * or batch dimensions (measured here: 16 against 1.7-2.3 GFLOP/s at [512,256]x[256,256]). tfjs' built-in
 * matMul gradient is exactly such a transposed product, so every product in the model goes through one of
 * the two functions below, whose forward AND backward are plain 2-D matMuls: operands that need a
 * transpose are either stored transposed once (frozen weights) or transposed explicitly (small tensors).
 */

/** a [M,K] × b [K,N] → [M,N]; gradients da = dy bᵀ, db = aᵀ dy, each a plain 2-D product. */
export const matMul2d: (a: tf.Tensor2D, b: tf.Tensor2D) => tf.Tensor2D = tf.customGrad(
  (...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
    const [a, b, save] = args as [tf.Tensor2D, tf.Tensor2D, tf.GradSaveFunc];
    save([a, b]);
    return {
      value: tf.matMul(a as tf.Tensor2D, b as tf.Tensor2D),
      gradFunc: (dy: tf.Tensor, [sa, sb]: tf.Tensor[]): tf.Tensor[] => [
        tf.matMul(dy as tf.Tensor2D, tf.transpose(sb) as tf.Tensor2D), // [M,N]×[N,K]
        tf.matMul(tf.transpose(sa) as tf.Tensor2D, dy as tf.Tensor2D), // [K,M]×[M,N]
      ],
    };
  },
) as unknown as (a: tf.Tensor2D, b: tf.Tensor2D) => tf.Tensor2D;

/**
 * A frozen linear layer y = x Wᵀ (+ b). The weight is held twice, made once at load:
 * `wT` [in,out] for the forward product and `w` [out,in] (Hugging Face's layout) for the backward
 * product dx = dy W. No gradient is ever computed for W: it is not an input of the custom gradient.
 */
export class FrozenLinear {
  readonly inFeatures: number;
  readonly outFeatures: number;
  private readonly product: (x: tf.Tensor2D) => tf.Tensor2D;

  constructor(
    /** [out, in], as stored by Hugging Face. */
    readonly w: tf.Tensor2D,
    /** [in, out], the transposed copy used by the forward product. */
    readonly wT: tf.Tensor2D,
    /** [out]; a tf.Variable when the bias is trained (lora bias = all | lora_only). */
    public bias?: tf.Tensor1D,
  ) {
    [this.outFeatures, this.inFeatures] = w.shape;
    this.product = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => ({
      value: tf.matMul(args[0] as tf.Tensor2D, this.wT), // [N,in]×[in,out]
      gradFunc: (dy: tf.Tensor): tf.Tensor => tf.matMul(dy as tf.Tensor2D, this.w), // [N,out]×[out,in]
    })) as unknown as (x: tf.Tensor2D) => tf.Tensor2D;
  }

  /** Builds both layouts from the Hugging Face [out, in] weight. */
  static fromWeight(w: tf.Tensor2D, bias?: tf.Tensor1D): FrozenLinear {
    return new FrozenLinear(w, tf.keep(tf.transpose(w)), bias);
  }

  /** x [N, in] → [N, out]. */
  apply(x: tf.Tensor2D): tf.Tensor2D {
    const y = this.product(x);
    return this.bias ? tf.add(y, this.bias) : y;
  }

  dispose(): void {
    tf.dispose([this.w, this.wT]);
    if (this.bias) this.bias.dispose();
  }
}
