import * as tf from '../tf.js';
import type { HostTensor, LoraSettings } from './api.js';
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
 * For the fast path both are stored transposed — `aT` [in, r], `bT` [r, out] — so the update is two plain
 * 2-D products (x aT) bT. The tf.Variables the optimizer sees are these transposed ones; PEFT's [r, in] /
 * [out, r] orientation appears only in `exportAdapter`/`importAdapter` (exportParams/importParams in causal-lm.ts).
 */
export class LoraLinear {
  readonly aT: tf.Variable<tf.Rank.R2>;
  readonly bT: tf.Variable<tf.Rank.R2>;
  readonly scaling: number;

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
  }

  /** x [N = B·T, in] → [N, out]; `exampleSeeds` holds one dropout seed per batch row (B of them). */
  apply(x: tf.Tensor2D, training: boolean, exampleSeeds: number[]): tf.Tensor2D {
    const p = this.settings.dropout;
    const xd = training && p > 0 ? dropout(x, p, exampleSeeds.map((s) => deriveSeed(s, this.moduleIndex))) : x;
    const update = matMul2d(matMul2d(xd, this.aT), this.bT); // [N,in]×[in,r] → [N,r]×[r,out]
    return tf.add(this.base.apply(x), tf.mul(update, this.scaling));
  }

  dispose(): void {
    this.aT.dispose();
    this.bT.dispose();
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
