import * as tf from '../tf.js';
import type { HostTensor, LoraSettings } from './api.js';
import { F32Weight } from './frozen-weight.js';
import { FrozenLinear, matMul2d } from './matmul.js';
import { deriveSeed, Prng } from './prng.js';

/**
 * LoRA as Hugging Face PEFT defines it (LoraLayer):
 *
 *     y = base(x) + scaling · B(A(dropout(x)))      scaling = alpha / r   (alpha / √r with use_rslora)
 *
 * A [r, in] starts kaiming-uniform with a = √5 (bound = √(6 / ((1 + a²) · fan_in)) = 1 / √in), B [out, r]
 * starts at zero, so the adapted model starts equal to the base. Dropout applies to A's input only.
 *
 * DoRA (use_dora, PEFT's DoraLinearLayer) adds a trainable magnitude m [out], initialised to the row norms
 * of W + scaling·B·A (= ‖W‖ per output row, B being zero), and rescales each output row:
 *
 *     y = (m / ‖W + scaling·B·A‖) ⊙ (W x + scaling·B A x) + b
 *
 * with the norm detached from the gradient (DoRA paper §4.3, as PEFT does). Under dropout PEFT applies the
 * rescaling to the dropped input only: y = W x + b + (m/‖·‖ − 1) ⊙ W x' + (m/‖·‖) ⊙ scaling·B A x', x' = dropout(x).
 *
 * For the fast path both are stored transposed — `aT` [in, r], `bT` [r, out] — so the update is two plain
 * 2-D products (x aT) bT. The tf.Variables the optimizer sees are these transposed ones; PEFT's [r, in] /
 * [out, r] orientation appears only in `exportAdapter`/`importAdapter` (exportParams/importParams in causal-lm.ts).
 */
export class LoraLinear {
  readonly aT: tf.Variable<tf.Rank.R2>;
  readonly bT: tf.Variable<tf.Rank.R2>;
  readonly scaling: number;
  /** DoRA's magnitude m [out] (PEFT `lora_magnitude_vector`); undefined for plain LoRA. */
  readonly magnitude?: tf.Variable<tf.Rank.R1>;

  // The Variables stay unnamed: tfjs names are global to the engine, and two models (a trainer worker and
  // an eval copy, a test and its reference) must coexist. PEFT names live in CausalLM.adapterParams().
  constructor(
    readonly base: FrozenLinear,
    /** PEFT's module path, e.g. `base_model.model.model.layers.0.self_attn.q_proj`. */
    readonly peftName: string,
    readonly settings: LoraSettings,
    /** Host-side init of A in PEFT's orientation [r, in], from the model's seeded stream. */
    aInit: Float32Array,
    /** Distinguishes this module's dropout masks from every other module's. */
    private readonly moduleIndex: number,
  ) {
    const { r } = settings;
    this.scaling = settings.useRslora ? settings.alpha / Math.sqrt(r) : settings.alpha / r;
    this.aT = variableOf(tf.tidy(() => tf.transpose(tf.tensor2d(aInit, [r, base.inFeatures])))); // [in, r]
    this.bT = variableOf(tf.zeros([r, base.outFeatures])); // [r, out]
    if (settings.useDora) this.magnitude = variableOf(tf.tidy(() => this.weightNorm())); // [out]
  }

  /**
   * ‖W + scaling·B·A‖ per output row [out], detached: its gradient is zero, as PEFT's `weight_norm.detach()`.
   * Computed from the current A and B on every call (PEFT caches it only in eval with ENABLE_DORA_CACHING).
   */
  weightNorm(): tf.Tensor1D {
    return detachedRowNorm(this.base.weight.dense(), this.aT, this.bT, this.scaling);
  }

  /** x [N = B·T, in] → [N, out]; `exampleSeeds` holds one dropout seed per batch row (B of them). */
  apply(x: tf.Tensor2D, training: boolean, exampleSeeds: number[]): tf.Tensor2D {
    const p = this.settings.dropout;
    const dropped = training && p > 0;
    const xd = dropped ? dropout(x, p, exampleSeeds.map((s) => deriveSeed(s, this.moduleIndex))) : x;
    const update = matMul2d(matMul2d(xd, this.aT), this.bT); // [N,in]×[in,r] → [N,r]×[r,out]
    const result = this.base.apply(x); // [N, out]
    if (!this.magnitude) return tf.add(result, tf.mul(update, this.scaling));
    // PEFT's DoRA arithmetic, term for term: result + (scale − 1)·(W x') + scale·scaling·B A x'.
    const scale = tf.div(this.magnitude, this.weightNorm()); // [out], broadcast over rows
    const withoutBias = (y: tf.Tensor2D): tf.Tensor2D => (this.base.bias ? tf.sub(y, this.base.bias) : y);
    const baseResult = withoutBias(dropped ? this.base.apply(xd) : result); // [N, out] W x'
    return tf.add(tf.add(result, tf.mul(baseResult, tf.sub(scale, 1))), tf.mul(update, tf.mul(scale, this.scaling)));
  }

  dispose(): void {
    this.aT.dispose();
    this.bT.dispose();
    this.magnitude?.dispose();
  }
}

/** Row norms of W [out, in] + s·(aT bT)ᵀ → [out], with a zero gradient for aT and bT (the norm is a constant in backward). */
function detachedRowNorm(w: tf.Tensor2D, aT: tf.Tensor2D, bT: tf.Tensor2D, s: number): tf.Tensor1D {
  const f = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
    const [a, b] = args as [tf.Tensor2D, tf.Tensor2D];
    const delta = tf.transpose(tf.matMul(a, b)); // [in,r]×[r,out] → [out, in] = B·A
    return {
      value: tf.sqrt(tf.sum(tf.square(tf.add(w, tf.mul(delta, s))), 1)), // [out]
      gradFunc: () => [tf.zerosLike(a), tf.zerosLike(b)],
    };
  });
  return f(aT, bT) as tf.Tensor1D;
}

/**
 * A fully trained linear layer (modules_to_save = [lm_head]): y = x Wᵀ with W a Variable, differentiated by tfjs'
 * own matMul gradient (FrozenLinear's custom gradient has none for W).
 */
export class TrainedLinear extends FrozenLinear {
  constructor(
    /** [out, in], trained by the optimizer. */
    readonly w: tf.Variable<tf.Rank.R2>,
    bias?: tf.Tensor1D,
  ) {
    super(new F32Weight(w, { transposedCopy: false }), bias); // a copy of a changing weight would go stale
  }

  override trainableWeight(): tf.Variable {
    return this.w;
  }

  override apply(x: tf.Tensor2D): tf.Tensor2D {
    return tf.matMul(x, this.w, false, true); // [N,in]×[out,in]ᵀ → [N,out]
  }
}

/** A trainable Variable holding `t`'s values; `t` itself is released. */
export function variableOf<R extends tf.Rank>(t: tf.Tensor<R>): tf.Variable<R> {
  const v = tf.variable(t, true);
  t.dispose();
  return v;
}

/**
 * Inverted dropout (torch.nn.Dropout): zero with probability p, scale survivors by 1 / (1 − p).
 * x [B·T, in] holds B examples; example r's mask is drawn from its own seed, row-major over [T, in], so it
 * does not depend on the other rows of the batch (data-parallel workers draw the single-process masks) and a
 * longer padding only appends to it. The mask is drawn on the host from ftc's own Prng (the same stream on
 * every backend and tfjs version) and uploaded already scaled: tf.randomUniform draws on the host too, but
 * about ten times slower (5.5 ms per [128, 256] example here, ~45 ms of a reference step), and its
 * compare/cast/scale chain cost three more device passes.
 */
export function dropout(x: tf.Tensor2D, p: number, seeds: number[]): tf.Tensor2D {
  return tf.tidy(() => {
    const [n, width] = x.shape;
    const perExample = (n / seeds.length) * width;
    const kept = 1 / (1 - p);
    const mask = new Float32Array(n * width); // [N, in]
    seeds.forEach((s, r) => {
      const rng = new Prng(s);
      const base = r * perExample;
      for (let i = 0; i < perExample; i++) mask[base + i] = rng.next() >= p ? kept : 0;
    });
    return tf.mul(x, tf.tensor2d(mask, [n, width]));
  });
}

/** kaiming_uniform_(a=√5) on a [r, in] matrix, drawn row-major from `rng`: U(−1/√in, 1/√in). */
export function kaimingUniformA(rng: Prng, r: number, inFeatures: number): Float32Array {
  const a = Math.sqrt(5);
  const bound = Math.sqrt(6 / ((1 + a * a) * inFeatures));
  const out = new Float32Array(r * inFeatures);
  for (let i = 0; i < out.length; i++) out[i] = rng.uniform(-bound, bound);
  return out;
}

/** Host copy of a variable, transposed back to PEFT's orientation when it is a 2-D adapter matrix. */
export function toPeftHost(v: tf.Variable, transposed: boolean): HostTensor {
  const t = transposed ? tf.transpose(v) : v;
  const out: HostTensor = { shape: t.shape.slice(), data: new Float32Array(t.dataSync()) }; // host sync: export only; a copy, never the backend buffer
  if (t !== v) t.dispose();
  return out;
}
