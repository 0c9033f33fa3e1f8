import * as tf from '../tf.js';
import { matMul2d } from './matmul.js';

/**
 * Causal scaled dot-product attention with grouped-query heads: softmax(q kᵀ / √D + mask) v.
 *
 * q [B, H, T, D] holds the T newest positions; k, v [B, KV, S, D] hold all S ≥ T positions (a KV cache
 * puts the S − T earlier ones first), so query i sits at absolute position S − T + i and sees keys 0..that.
 * Query head h reads key/value head ⌊h / (H / KV)⌋ (Hugging Face's repeat_kv).
 *
 * This is the one seam where a faster attention kernel plugs in (src/runtime/kernels/): set one with
 * `setAttentionImpl`. Built in are two routes; on tfjs-backend-wasm the per-head route is faster
 * (measured here at [32,128,32]×[32,32,128]: batched 1.34 GFLOP/s, 32 plain 2-D products 1.77 GFLOP/s,
 * and its backward stays on plain 2-D products too); elsewhere one batched product wins.
 */
export type AttentionImpl = (q: tf.Tensor4D, k: tf.Tensor4D, v: tf.Tensor4D) => tf.Tensor4D;

let override: AttentionImpl | undefined;

/** Installs a faster attention (e.g. a wasm kernel); `undefined` restores the built-in choice. */
export function setAttentionImpl(impl: AttentionImpl | undefined): void {
  override = impl;
}

export function attention(q: tf.Tensor4D, k: tf.Tensor4D, v: tf.Tensor4D): tf.Tensor4D {
  if (override) return override(q, k, v);
  return tf.getBackend() === 'wasm' ? attentionPerHead(q, k, v) : attentionBatched(q, k, v);
}

/** Additive causal mask [T, S]: 0 where key j ≤ S − T + i, a large negative number elsewhere. */
export function causalMask(t: number, s: number): tf.Tensor2D {
  const mask = new Float32Array(t * s);
  for (let i = 0; i < t; i++) for (let j = s - t + i + 1; j < s; j++) mask[i * s + j] = -1e9;
  return tf.tensor2d(mask, [t, s]);
}

/** One batched product per step; key/value heads tiled up to the query heads first. */
export function attentionBatched(q: tf.Tensor4D, k: tf.Tensor4D, v: tf.Tensor4D): tf.Tensor4D {
  return tf.tidy(() => {
    const [, h, t, d] = q.shape;
    const [, kv, s] = k.shape;
    const kr = repeatKv(k, h / kv); // [B, H, S, D]
    const vr = repeatKv(v, h / kv); // [B, H, S, D]
    const scores = tf.mul(tf.matMul(q, kr, false, true), 1 / Math.sqrt(d)); // [B, H, T, S]
    const probs = tf.softmax(tf.add(scores, causalMask(t, s)), -1); // [B, H, T, S]
    return tf.matMul(probs, vr) as tf.Tensor4D; // [B, H, T, D]
  });
}

/** B·H plain 2-D products per step, each head reading its key/value head directly (no tiling). */
export function attentionPerHead(q: tf.Tensor4D, k: tf.Tensor4D, v: tf.Tensor4D): tf.Tensor4D {
  return tf.tidy(() => {
    const [b, h, t, d] = q.shape;
    const [, kv, s] = k.shape;
    const group = h / kv;
    const qs = tf.unstack(tf.reshape(tf.mul(q, 1 / Math.sqrt(d)), [b * h, t, d])); // B·H × [T, D]
    const kts = tf.unstack(tf.reshape(tf.transpose(k, [0, 1, 3, 2]), [b * kv, d, s])); // B·KV × [D, S]
    const vs = tf.unstack(tf.reshape(v, [b * kv, s, d])); // B·KV × [S, D]
    const mask = causalMask(t, s);
    const outs: tf.Tensor2D[] = [];
    for (let bi = 0; bi < b; bi++) {
      for (let hi = 0; hi < h; hi++) {
        const kvi = bi * kv + Math.floor(hi / group);
        const scores = tf.add(matMul2d(qs[bi * h + hi] as tf.Tensor2D, kts[kvi] as tf.Tensor2D), mask); // [T, S]
        outs.push(matMul2d(tf.softmax(scores, -1) as tf.Tensor2D, vs[kvi] as tf.Tensor2D)); // [T, D]
      }
    }
    return tf.reshape(tf.stack(outs), [b, h, t, d]) as tf.Tensor4D; // [B, H, T, D]
  });
}

/** [B, KV, S, D] → [B, KV·n, S, D], each key/value head repeated n times in place (repeat_kv). */
function repeatKv(x: tf.Tensor4D, n: number): tf.Tensor4D {
  if (n === 1) return x;
  const [b, kv, s, d] = x.shape;
  // Rank 4, because tfjs has no tile gradient above rank 4.
  const tiled = tf.tile(tf.reshape(x, [b, kv, 1, s * d]), [1, 1, n, 1]); // [B, KV, n, S·D]
  return tf.reshape(tiled, [b, kv * n, s, d]) as tf.Tensor4D;
}
