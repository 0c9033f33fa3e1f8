import * as tf from '../tf.js';
import { attention, attentionMask } from './attention.js';
import type { LlamaConfig } from '../../model-spec/config.js';
import type { LinearModule } from '../../model-spec/modules.js';
import type { FrozenWeight } from './frozen-weight.js';
import type { FrozenLinear } from './matmul.js';
import type { LoraLinear } from './lora.js';
import { embedTokens } from './embedding.js';
import { appendPositions, cachedAttention, decodeKernelsAvailable, fusedRmsNorm, fusedRope, fusedSwiGLU } from '../kernels/decode.js';
import { deriveSeed } from './prng.js';
import { checkpoint } from './recompute.js';

/**
 * The Llama decoder (Touvron et al. 2023; Hugging Face's LlamaForCausalLM), in forward order.
 * Shapes: B batch, T new positions, S = past + T positions, E hidden, H query heads, KV key/value heads,
 * D head_dim, F intermediate, V vocabulary, N = B·T rows of the flattened batch.
 *
 * Every linear layer is one plain 2-D product on [N, in] (see matmul.ts for why); frozen weights are
 * plain tensors, never Variables, so autodiff reaches only the adapters (and, under full fine-tuning, the
 * weights build-full.ts makes Variables).
 */

export type LinearName = LinearModule;

/** A linear layer: frozen, or frozen plus a LoRA adapter. */
export type Linear = FrozenLinear | LoraLinear;

export interface DecoderLayer {
  inputNorm: tf.Tensor1D; // [E] input_layernorm
  postNorm: tf.Tensor1D; // [E] post_attention_layernorm
  linear: Record<LinearName, Linear>;
}

export interface LlamaModules {
  config: LlamaConfig;
  embed: tf.Tensor2D | FrozenWeight; // [V, E] embed_tokens: a tensor when trained, else in its stored format
  layers: DecoderLayer[];
  norm: tf.Tensor1D; // [E] final norm
  lmHead: FrozenLinear; // [E] → [V]; shares embed's tensor when the embeddings are tied
}

/** Keys and values of one layer for every position so far, after rotary embedding: [B, S, KV, D]. */
export interface LayerCache {
  k: tf.Tensor4D;
  v: tf.Tensor4D;
}

export interface DecodeOptions {
  training?: boolean;
  dropoutSeed?: number | number[];
  /** Recompute each layer in the backward pass instead of keeping its activations (training only). */
  gradientCheckpointing?: boolean;
  /** Earlier positions' keys/values; with it, `ids` continue the cached sequence. */
  past?: LayerCache[];
  /** Return this call's keys/values (past + new) for the next call. */
  keepCache?: boolean;
}

/** ids [B, T] → final hidden states [N, E] (after the last RMSNorm), plus the updated cache if asked. */
export function decode(m: LlamaModules, ids: tf.Tensor2D, opts: DecodeOptions = {}): { hidden: tf.Tensor2D; cache?: LayerCache[] } {
  const [b, t] = ids.shape;
  const offset = opts.past ? opts.past[0].k.shape[1] : 0;
  const rope = ropeTables(m.config, offset, t);
  const mask = attentionMask(t, offset + t); // [T, S] once for every layer, or none (the fused attention masks per chunk)
  let x = embedTokens(m.embed, tf.reshape(ids, [b * t]) as tf.Tensor1D); // [N, E]
  const cache: LayerCache[] = [];
  // Dropout seeds only matter in training; inference skips deriving them for every layer and module.
  const rowSeeds = opts.training ? exampleSeeds(opts.dropoutSeed, b) : [];
  // Checkpointing only pays where there is a backward pass, and a cache would need the activations it drops.
  const recompute = (opts.gradientCheckpointing ?? false) && (opts.training ?? false) && !opts.keepCache && !opts.past;
  // The cached path (generate, score) never differentiates: there the fused inference kernels replace op chains.
  const fused = (opts.keepCache ?? false) && !(opts.training ?? false) && decodeKernelsAvailable();
  m.layers.forEach((layer, i) => {
    const ctx = { training: opts.training ?? false, seeds: rowSeeds.map((s) => deriveSeed(s, i)), fused };
    if (recompute) {
      const context: tf.Tensor[] = [rope.cos, rope.sin, rope.swap, ...(mask ? [mask] : [])];
      x = checkpoint((input, [cos, sin, swap, causal]) =>
        decoderLayer(m.config, layer, input, b, t, { cos: cos as tf.Tensor4D, sin: sin as tf.Tensor4D, swap: swap as tf.Tensor2D }, causal as tf.Tensor2D | undefined, ctx).x,
        x, context, layerParams(layer));
      return;
    }
    const out = decoderLayer(m.config, layer, x, b, t, rope, mask, ctx, opts.past?.[i]);
    x = out.x;
    if (opts.keepCache) cache.push(out.cache);
  });
  tf.dispose([rope.cos, rope.sin, rope.swap, ...(mask ? [mask] : [])]);
  const hidden = fused ? fusedRmsNorm(x, m.norm, m.config.rmsNormEps) : rmsNorm(x, m.norm, m.config.rmsNormEps); // [N, E]
  return opts.keepCache ? { hidden, cache } : { hidden };
}

/** Final hidden [N, E] → logits [N, V]. */
export function lmHead(m: LlamaModules, hidden: tf.Tensor2D): tf.Tensor2D {
  return m.lmHead.apply(hidden);
}

interface Ctx {
  training: boolean;
  /** One dropout seed per batch row (example), for this layer. */
  seeds: number[];
  /** Inference without autodiff on wasm: the fused kernels of kernels/decode.ts. */
  fused?: boolean;
}

/** Per-example dropout seeds: given as a list, or derived from one step seed by row index. */
function exampleSeeds(seed: number | number[] | undefined, rows: number): number[] {
  if (Array.isArray(seed)) {
    if (seed.length !== rows) throw new Error(`dropoutSeed has ${seed.length} seeds for a batch of ${rows} rows`);
    return seed;
  }
  return Array.from({ length: rows }, (_, r) => deriveSeed(seed ?? 0, r));
}

/** One pre-norm block: x + attn(norm(x)), then x + mlp(norm(x)). */
function decoderLayer(
  c: LlamaConfig,
  layer: DecoderLayer,
  x: tf.Tensor2D, // [N, E]
  b: number,
  t: number,
  rope: Rope,
  mask: tf.Tensor2D | undefined, // [T, S] causal, when the attention in use reads one
  ctx: Ctx,
  past?: LayerCache,
): { x: tf.Tensor2D; cache: LayerCache } {
  const { numAttentionHeads: h, numKeyValueHeads: kv, headDim: d } = c;
  const lin = (name: LinearName, input: tf.Tensor2D, k: number): tf.Tensor2D => applyLinear(layer.linear[name], input, ctx, k);

  const fused = ctx.fused ?? false;
  const norm = (input: tf.Tensor2D, w: tf.Tensor1D) => (fused ? fusedRmsNorm(input, w, c.rmsNormEps) : rmsNorm(input, w, c.rmsNormEps));
  const rotate = (input: tf.Tensor4D) => (fused ? fusedRope(input, rope.cos, rope.sin) : applyRope(input, rope));

  // Self-attention.
  const hAttn = norm(x, layer.inputNorm); // [N, E]
  const q = rotate(tf.reshape(lin('q_proj', hAttn, 0), [b, t, h, d])); // [B, T, H, D]
  let k = rotate(tf.reshape(lin('k_proj', hAttn, 1), [b, t, kv, d])); // [B, T, KV, D]
  let v = tf.reshape(lin('v_proj', hAttn, 2), [b, t, kv, d]) as tf.Tensor4D; // [B, T, KV, D]
  if (past) {
    k = fused ? appendPositions(past.k, k) : tf.concat([past.k, k], 1); // [B, S, KV, D]
    v = fused ? appendPositions(past.v, v) : tf.concat([past.v, v], 1); // [B, S, KV, D]
  }
  const heads = fused ? cachedAttention(q, k, v) : attention(q, k, v, mask); // [B, T, H, D]
  const merged = tf.reshape(heads, [b * t, h * d]) as tf.Tensor2D; // [N, H·D]
  x = tf.add(x, lin('o_proj', merged, 3)); // [N, E]

  // SwiGLU MLP: down(silu(gate(x)) ⊙ up(x)).
  const hMlp = norm(x, layer.postNorm); // [N, E]
  const gate = lin('gate_proj', hMlp, 4); // [N, F]
  const up = lin('up_proj', hMlp, 5); // [N, F]
  const act = fused ? fusedSwiGLU(gate, up) : tf.mul(tf.mul(gate, tf.sigmoid(gate)), up); // [N, F]
  x = tf.add(x, lin('down_proj', act as tf.Tensor2D, 6)); // [N, E]
  return { x, cache: { k, v } };
}

/**
 * The trainable Variables a layer reads: its adapters' matrices (and DoRA magnitudes), any trained bias, and
 * under full fine-tuning its trained weights and norms.
 */
function layerParams(layer: DecoderLayer): tf.Variable[] {
  const read: Array<tf.Tensor | undefined> = [layer.inputNorm, layer.postNorm];
  for (const l of Object.values(layer.linear)) {
    const base = 'aT' in l ? l.base : l;
    if ('aT' in l) read.push(l.aT, l.bT, l.magnitude);
    read.push(base.trainableWeight(), base.bias);
  }
  return read.filter((t): t is tf.Variable => t instanceof tf.Variable && t.trainable);
}

function applyLinear(m: Linear, x: tf.Tensor2D, ctx: Ctx, moduleIndex: number): tf.Tensor2D {
  if ('aT' in m) return m.apply(x, ctx.training, ctx.seeds.map((s) => deriveSeed(s, moduleIndex)));
  return ctx.fused ? m.infer(x) : m.apply(x); // the fused (cached, no-autodiff) path skips the custom gradient
}

/** RMSNorm: x / √(mean(x²) + ε) · weight, over the last axis. */
export function rmsNorm(x: tf.Tensor2D, weight: tf.Tensor1D, eps: number): tf.Tensor2D {
  const meanSquare = tf.mean(tf.square(x), -1, true); // [N, 1]
  return tf.mul(tf.mul(x, tf.rsqrt(tf.add(meanSquare, eps))), weight);
}

/**
 * cos and signed sin [1, T, 1, D] for positions offset..offset+T−1 (divided by the linear scaling factor),
 * and `swap` [D, D], the permutation matrix that exchanges the two halves of the head dimension.
 */
interface Rope {
  cos: tf.Tensor4D;
  sin: tf.Tensor4D;
  swap: tf.Tensor2D;
}

/**
 * Rotary tables in Hugging Face's layout: frequency i of D/2 serves dims i and i + D/2
 * (emb = cat(freqs, freqs)). `sin` carries rotate_half's sign: −sin on the first half, +sin on the second,
 * so rotate(x) = x·cos + cat(x₂, x₁)·sin.
 */
function ropeTables(c: LlamaConfig, offset: number, t: number): Rope {
  const d = c.headDim;
  const half = d / 2;
  const factor = c.ropeScaling?.factor ?? 1;
  const cos = new Float32Array(t * d);
  const sin = new Float32Array(t * d);
  for (let p = 0; p < t; p++) {
    const pos = (offset + p) / factor;
    for (let i = 0; i < half; i++) {
      const angle = pos / Math.pow(c.ropeTheta, (2 * i) / d);
      cos[p * d + i] = cos[p * d + half + i] = Math.cos(angle);
      sin[p * d + i] = -Math.sin(angle);
      sin[p * d + half + i] = Math.sin(angle);
    }
  }
  const swap = new Float32Array(d * d);
  for (let i = 0; i < half; i++) {
    swap[(i + half) * d + i] = 1; // output dim i reads input dim i + D/2
    swap[i * d + i + half] = 1; // output dim i + D/2 reads input dim i
  }
  return { cos: tf.tensor4d(cos, [1, t, 1, d]), sin: tf.tensor4d(sin, [1, t, 1, d]), swap: tf.tensor2d(swap, [d, d]) };
}

/**
 * x [B, T, heads, D] → x·cos + rotate_half(x)·sin, with rotate_half's sign folded into `sin`.
 * The halves are exchanged by one [B·T·heads, D]×[D, D] product with the permutation matrix rather than
 * split + concat: on wasm those two (and concat's split-shaped gradient) cost more than the tiny product
 * (measured ~60 ms of SplitV/Concat per reference training step), and the product's gradient is one too.
 */
function applyRope(x: tf.Tensor, rope: Rope): tf.Tensor4D {
  const d = rope.swap.shape[0];
  const swapped = tf.reshape(tf.matMul(tf.reshape(x, [-1, d]) as tf.Tensor2D, rope.swap), x.shape); // cat(x₂, x₁)
  return tf.add(tf.mul(x, rope.cos), tf.mul(swapped, rope.sin)) as tf.Tensor4D;
}
