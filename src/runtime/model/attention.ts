import * as tf from '../tf.js';
import { matMul2d } from './matmul.js';
import { recomputed } from './recompute.js';
import { fusedAttention } from './fused-attention.js';

/**
 * Causal scaled dot-product attention with grouped-query heads: softmax(q kᵀ / √D + mask) v.
 *
 * Layout is Hugging Face's pre-transpose one, which the projections produce for free by reshaping:
 * q [B, T, H, D] holds the T newest positions; k, v [B, S, KV, D] hold all S ≥ T positions (a KV cache
 * puts the S − T earlier ones first), so query i sits at absolute position S − T + i and sees keys 0..that.
 * Query head h reads key/value head ⌊h / (H / KV)⌋ (Hugging Face's repeat_kv). Returns [B, T, H, D].
 *
 * Built in is fusedAttention (fused-attention.ts): one op whose backward pass recomputes the probabilities a
 * query chunk at a time, so the tape keeps q, k, v and the output, never [B, H, T, S], and it builds each
 * chunk's causal mask itself. Its products are batched ones (fast on the native backends and on wasm with
 * ftc's SIMD kernels, which backend.ts installs).
 *
 * This is the one seam where another attention plugs in: `setAttentionImpl`. The two earlier routes stay for
 * that (bench/train.ts and bench/memory.ts compare them with `--attention`, tests use them as references):
 * one batched product (attentionBatched), and B·H plain 2-D products (attentionPerHead), which was faster on
 * the wasm backend's built-in BatchMatMul (batched 1.34 GFLOP/s against 1.77 for 32 plain 2-D products). An
 * installed impl differentiates by tfjs autodiff, in query chunks each recomputed past 32 MiB of scores
 * (attentionChunked), and reads a [T, S] mask that decode builds once per forward pass (attentionMask).
 */
export type AttentionImpl = (q: tf.Tensor4D, k: tf.Tensor4D, v: tf.Tensor4D, mask?: tf.Tensor2D) => tf.Tensor4D;

let override: AttentionImpl | undefined;

/** Scores [B, H, T, S] larger than this (float32) are computed a chunk of query rows at a time (installed impls). */
const CHUNK_BYTES = 32 * 2 ** 20;

/** Installs a faster attention (e.g. a wasm kernel); `undefined` restores the built-in choice. */
export function setAttentionImpl(impl: AttentionImpl | undefined): void {
  override = impl;
}

/** `mask` is attentionMask(T, S), built once per forward pass by the caller (decode) and shared by every layer. */
export function attention(q: tf.Tensor4D, k: tf.Tensor4D, v: tf.Tensor4D, mask?: tf.Tensor2D): tf.Tensor4D {
  if (!override) return fusedAttention(q, k, v);
  const [b, t, h] = q.shape;
  const s = k.shape[1];
  if (b * h * t * s * 4 <= CHUNK_BYTES) return override(q, k, v, mask);
  return attentionChunked(q, k, v, mask ?? causalMask(t, s), override);
}

/** The [T, S] causal mask the attention in use reads, or undefined: the fused one builds a mask per chunk. */
export function attentionMask(t: number, s: number): tf.Tensor2D | undefined {
  return override ? causalMask(t, s) : undefined;
}

/** The mask a route adds to its [.., T, S] scores: the given one, none for one query row, else a new causal one. */
function maskFor(given: tf.Tensor2D | undefined, t: number, s: number): tf.Tensor2D | undefined {
  return given ?? (t === 1 ? undefined : causalMask(t, s));
}


/**
 * Attention a chunk of query rows at a time, each chunk recomputed in the backward pass (recompute.ts), so
 * neither pass holds more than one chunk's [B, H, rows, S] scores and the tape keeps only q, k, v: memory is
 * linear in T (the reference model's [B, H, T, T] tensors on the tape were ~830 B·T², out of the wasm heap
 * at T = 2048). A chunk reads only the keys its last query can see, so the masked upper triangle beyond it is
 * never computed (about half the products at long T). `rows` defaults to what keeps a chunk's scores under
 * CHUNK_BYTES.
 */
export function attentionChunked(q: tf.Tensor4D, k: tf.Tensor4D, v: tf.Tensor4D, mask: tf.Tensor2D, impl: AttentionImpl = attentionBatched, rows?: number): tf.Tensor4D {
  return tf.tidy(() => {
    const [b, t, h, d] = q.shape;
    const [, s, kv] = k.shape;
    const chunk = rows ?? Math.max(1, Math.floor(CHUNK_BYTES / (4 * b * h * s)));
    const outs: tf.Tensor4D[] = [];
    for (let from = 0; from < t; from += chunk) {
      const n = Math.min(chunk, t - from);
      const keys = s - t + from + n; // keys the chunk's last query sees
      // The chunk slices inside the recomputed block: what it saves are q, k, v and the mask themselves
      // (shared buffers, no copies), so the tape holds nothing per chunk.
      const block = ([x, y, z]: tf.Tensor[], [m]: tf.Tensor[]) =>
        impl(
          tf.slice(x as tf.Tensor4D, [0, from, 0, 0], [b, n, h, d]), // [B, n, H, D]
          keys === s ? (y as tf.Tensor4D) : tf.slice(y as tf.Tensor4D, [0, 0, 0, 0], [b, keys, kv, d]), // [B, keys, KV, D]
          keys === s ? (z as tf.Tensor4D) : tf.slice(z as tf.Tensor4D, [0, 0, 0, 0], [b, keys, kv, d]), // [B, keys, KV, D]
          tf.slice(m as tf.Tensor2D, [from, 0], [n, keys]), // [n, keys]
        );
      outs.push(recomputed(block, [q, k, v], [mask]) as tf.Tensor4D);
    }
    return (outs.length === 1 ? outs[0]! : tf.concat(outs, 1)) as tf.Tensor4D; // [B, T, H, D]
  });
}

/** Additive causal mask [T, S]: 0 where key j ≤ S − T + i, a large negative number elsewhere. */
export function causalMask(t: number, s: number): tf.Tensor2D {
  const mask = new Float32Array(t * s);
  for (let i = 0; i < t; i++) for (let j = s - t + i + 1; j < s; j++) mask[i * s + j] = -1e9;
  return tf.tensor2d(mask, [t, s]);
}

/**
 * One batched product per step. With grouped-query heads the key/value heads are not tiled: the `group`
 * query heads that share one key/value head are consecutive, so [B, H, T, D] is [B, KV, group·T, D] by a
 * reshape, and each key/value head multiplies its group's rows in one product (no tile, and no tile
 * gradient's reduction in the backward pass; the GQA reference step was slower than the MHA one with tiling).
 */
export function attentionBatched(q: tf.Tensor4D, k: tf.Tensor4D, v: tf.Tensor4D, mask?: tf.Tensor2D): tf.Tensor4D {
  return tf.tidy(() => {
    const [b, t, h, d] = q.shape;
    const [, s, kv] = k.shape;
    const rows = (h / kv) * t; // query rows per key/value head
    // With T = 1 (decoding) moving the size-1 T axis moves no data: a reshape does it without a copy.
    const qg = tf.reshape(t === 1 ? q : tf.transpose(q, [0, 2, 1, 3]), [b, kv, rows, d]); // [B, KV, group·T, D]
    const kh = tf.transpose(k, [0, 2, 1, 3]); // [B, KV, S, D]
    const vh = tf.transpose(v, [0, 2, 1, 3]); // [B, KV, S, D]
    const scores = tf.reshape(tf.mul(tf.matMul(qg, kh, false, true), 1 / Math.sqrt(d)), [b, h, t, s]); // [B, H, T, S]
    const m = maskFor(mask, t, s);
    const probs = tf.reshape(tf.softmax(m ? tf.add(scores, m) : scores, -1), [b, kv, rows, s]); // [B, KV, group·T, S]
    const out = tf.matMul(probs, vh); // [B, KV, group·T, D]
    if (t === 1) return tf.reshape(out, [b, 1, h, d]) as tf.Tensor4D; // [B, T, H, D]
    return tf.transpose(tf.reshape(out, [b, h, t, d]), [0, 2, 1, 3]) as tf.Tensor4D; // [B, T, H, D]
  });
}

/** B·H plain 2-D products per step, each head a 2-D slice of the [B·T, H·D] projection (no tiling). */
export function attentionPerHead(q: tf.Tensor4D, k: tf.Tensor4D, v: tf.Tensor4D, given?: tf.Tensor2D): tf.Tensor4D {
  return tf.tidy(() => {
    const [b, t, h, d] = q.shape;
    const [, s, kv] = k.shape;
    const group = h / kv;
    const q2 = tf.reshape(tf.mul(q, 1 / Math.sqrt(d)), [b * t, h * d]) as tf.Tensor2D; // [B·T, H·D]
    const k2 = tf.reshape(k, [b * s, kv * d]) as tf.Tensor2D; // [B·S, KV·D]
    const v2 = tf.reshape(v, [b * s, kv * d]) as tf.Tensor2D; // [B·S, KV·D]
    const mask = maskFor(given, t, s);
    const rows: tf.Tensor2D[] = [];
    for (let bi = 0; bi < b; bi++) {
      const heads: tf.Tensor2D[] = [];
      for (let g = 0; g < kv; g++) {
        const kT = tf.transpose(tf.slice(k2, [bi * s, g * d], [s, d])) as tf.Tensor2D; // [D, S]
        const vg = tf.slice(v2, [bi * s, g * d], [s, d]); // [S, D]
        for (let hi = g * group; hi < (g + 1) * group; hi++) {
          const qh = tf.slice(q2, [bi * t, hi * d], [t, d]); // [T, D]
          const scores = matMul2d(qh, kT); // [T, S]
          const probs = tf.softmax(mask ? tf.add(scores, mask) : scores, -1) as tf.Tensor2D; // [T, S]
          heads.push(matMul2d(probs, vg)); // [T, D]
        }
      }
      rows.push(tf.concat(heads, 1)); // [T, H·D]
    }
    return tf.reshape(tf.concat(rows, 0), [b, t, h, d]) as tf.Tensor4D; // [B, T, H, D]
  });
}
