import * as tf from '../tf.js';

/**
 * Causal attention as one differentiable op whose backward pass keeps no [B, H, T, S] tensor (FlashAttention's
 * backward, Dao et al. 2022, a query chunk at a time): the tape saves only q, k, v and the output, and the
 * backward pass recomputes each chunk's probabilities P and forms
 *   dP = dO·Vᵀ,  dS = P ∘ (dP − rowsum(dO ∘ O)),  dQ = dS·K / √D,  dK = dSᵀ·Q / √D,  dV = Pᵀ·dO.
 * Scratch in either pass is one chunk's [B, H, rows, keys] scores (rows chosen to keep them under
 * CHUNK_BYTES), so activation memory is linear in T. The causal mask of a chunk is built for that chunk alone.
 *
 * Layout as attention.ts: q [B, T, H, D]; k, v [B, S, KV, D] with S ≥ T (a KV cache's S − T earlier positions
 * first); query head h reads key/value head ⌊h / (H / KV)⌋. Inside, heads lead: [B, KV, group·rows, D] is one
 * key/value head's group of query heads, so each product is one batched matMul with no tiling of k and v.
 */
export function fusedAttention(q: tf.Tensor4D, k: tf.Tensor4D, v: tf.Tensor4D, rows?: number): tf.Tensor4D {
  const [b, t, h] = q.shape;
  const s = k.shape[1];
  const plan = chunks(t, s, rows ?? Math.max(1, Math.floor(CHUNK_BYTES / (4 * b * h * s))));
  const f = tf.customGrad((qi, ki, vi, save) => {
    const out = forward(qi as tf.Tensor4D, ki as tf.Tensor4D, vi as tf.Tensor4D, plan);
    (save as tf.GradSaveFunc)([qi as tf.Tensor4D, ki as tf.Tensor4D, vi as tf.Tensor4D, out]);
    return { value: out, gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => backward(dy as tf.Tensor4D, saved as tf.Tensor4D[], plan) };
  });
  return f(q, k, v) as tf.Tensor4D;
}

/** Scores [B, H, rows, keys] (float32) of one chunk stay under this. */
const CHUNK_BYTES = 8 * 2 ** 20;

/** One chunk of query rows: rows from..from+n−1 and the keys its last query sees, 0..keys−1. */
interface Chunk {
  from: number;
  n: number;
  keys: number;
}

function chunks(t: number, s: number, rows: number): Chunk[] {
  const out: Chunk[] = [];
  for (let from = 0; from < t; from += rows) {
    const n = Math.min(rows, t - from);
    out.push({ from, n, keys: s - t + from + n }); // the masked keys past the chunk's last query are never read
  }
  return out;
}

/** Heads-first views: q scaled by 1/√D, [B, H, T, D]; k, v [B, KV, S, D]. */
function headsFirst(q: tf.Tensor4D, k: tf.Tensor4D, v: tf.Tensor4D): { qh: tf.Tensor4D; kh: tf.Tensor4D; vh: tf.Tensor4D } {
  const d = q.shape[3];
  return {
    qh: tf.transpose(tf.mul(q, 1 / Math.sqrt(d)), [0, 2, 1, 3]) as tf.Tensor4D, // [B, H, T, D]
    kh: tf.transpose(k, [0, 2, 1, 3]) as tf.Tensor4D, // [B, KV, S, D]
    vh: tf.transpose(v, [0, 2, 1, 3]) as tf.Tensor4D, // [B, KV, S, D]
  };
}

/** A chunk's rows of a heads-first [B, H, T, D] tensor, grouped by key/value head: [B, KV, group·n, D]. */
function chunkRows(x: tf.Tensor4D, c: Chunk, kv: number): tf.Tensor4D {
  const [b, h, t, d] = x.shape;
  const rows = c.n === t ? x : tf.slice(x, [0, 0, c.from, 0], [b, h, c.n, d]); // [B, H, n, D]
  return tf.reshape(rows, [b, kv, (h / kv) * c.n, d]);
}

/** The keys and values a chunk reads: [B, KV, keys, D]. */
function chunkKeys(x: tf.Tensor4D, c: Chunk): tf.Tensor4D {
  const [b, kv, s, d] = x.shape;
  return c.keys === s ? x : tf.slice(x, [0, 0, 0, 0], [b, kv, c.keys, d]);
}

/**
 * softmax(q kᵀ + mask) of one chunk, [B, H, n, keys]; qc is already scaled. Each [B, H, n, keys] step is freed
 * as soon as the next exists (here and in both passes), so a chunk's scratch is two such tensors, not six.
 */
function probabilities(qc: tf.Tensor4D, kc: tf.Tensor4D, c: Chunk, h: number): tf.Tensor4D {
  const [b] = qc.shape;
  const scores = tf.reshape(tf.matMul(qc, kc, false, true), [b, h, c.n, c.keys]); // [B, H, n, keys]
  const mask = chunkMask(c);
  const masked = tf.add(scores, mask);
  tf.dispose([scores, mask]);
  return freeing(tf.softmax(masked, -1) as tf.Tensor4D, masked);
}

/** `value`, after disposing what it was made from. */
function freeing<T extends tf.Tensor>(value: T, ...inputs: tf.Tensor[]): T {
  tf.dispose(inputs);
  return value;
}

/** Additive causal mask [n, keys] of a chunk: its query i (absolute position keys − n + i) sees keys ≤ keys − n + i. */
function chunkMask(c: Chunk): tf.Tensor2D {
  const mask = new Float32Array(c.n * c.keys);
  for (let i = 0; i < c.n; i++) mask.fill(-1e9, i * c.keys + c.keys - c.n + i + 1, (i + 1) * c.keys);
  return tf.tensor2d(mask, [c.n, c.keys]);
}

function forward(q: tf.Tensor4D, k: tf.Tensor4D, v: tf.Tensor4D, plan: Chunk[]): tf.Tensor4D {
  return tf.tidy(() => {
    const [b, , h, d] = q.shape;
    const kv = k.shape[2];
    const { qh, kh, vh } = headsFirst(q, k, v);
    const outs = plan.map((c) =>
      tf.tidy(() => {
        const p = probabilities(chunkRows(qh, c, kv), chunkKeys(kh, c), c, h); // [B, H, n, keys]
        const o = freeing(tf.matMul(tf.reshape(p, [b, kv, (h / kv) * c.n, c.keys]), chunkKeys(vh, c)), p); // [B, KV, group·n, D]
        return tf.reshape(o, [b, h, c.n, d]); // [B, H, n, D]
      }),
    );
    const out = outs.length === 1 ? outs[0]! : tf.concat(outs, 2); // [B, H, T, D]
    return tf.transpose(out, [0, 2, 1, 3]) as tf.Tensor4D; // [B, T, H, D]
  });
}

/** dq, dk, dv from dy [B, T, H, D] and the saved q, k, v, output. */
function backward(dy: tf.Tensor4D, [q, k, v, out]: tf.Tensor4D[], plan: Chunk[]): tf.Tensor[] {
  return tf.tidy(() => {
    const [b, , h, d] = q!.shape;
    const [, s, kv] = k!.shape;
    const group = h / kv;
    const scale = 1 / Math.sqrt(d);
    const { qh, kh, vh } = headsFirst(q!, k!, v!);
    const dOh = tf.transpose(dy, [0, 2, 1, 3]) as tf.Tensor4D; // [B, H, T, D]
    // rowsum(dO ∘ O) [B, H, T, 1]; its own tidy frees the transposed output and the product at once.
    const rowDot = tf.tidy(() => tf.sum(tf.mul(dOh, tf.transpose(out!, [0, 2, 1, 3])), -1, true)) as tf.Tensor4D;
    let dk = tf.zeros([b, kv, s, d]) as tf.Tensor4D; // [B, KV, S, D]
    let dv = tf.zeros([b, kv, s, d]) as tf.Tensor4D;
    const dqs: tf.Tensor4D[] = [];
    for (const c of plan) {
      const [dq, dkNext, dvNext] = tf.tidy(() => {
        const qc = chunkRows(qh, c, kv); // [B, KV, group·n, D], scaled
        const kc = chunkKeys(kh, c); // [B, KV, keys, D]
        const vc = chunkKeys(vh, c);
        const doc = chunkRows(dOh, c, kv); // [B, KV, group·n, D]
        const p = probabilities(qc, kc, c, h); // [B, H, n, keys]
        const pad = (x: tf.Tensor4D) => (c.keys === s ? x : tf.pad(x, [[0, 0], [0, 0], [0, s - c.keys], [0, 0]])); // [B, KV, S, D]
        const dvc = pad(tf.matMul(tf.reshape(p, [b, kv, group * c.n, c.keys]), doc, true, false)); // Pᵀ·dO
        const dp = tf.reshape(tf.matMul(doc, vc, false, true), [b, h, c.n, c.keys]); // dO·Vᵀ [B, H, n, keys]
        const rd = c.n === q!.shape[1] ? rowDot : tf.slice(rowDot, [0, 0, c.from, 0], [b, h, c.n, 1]); // [B, H, n, 1]
        const centred = freeing(tf.sub(dp, rd), dp);
        const ds = tf.reshape(freeing(tf.mul(p, centred), p, centred), [b, kv, group * c.n, c.keys]); // [B, KV, group·n, keys]
        const dqc = tf.reshape(tf.mul(tf.matMul(ds, kc), scale), [b, h, c.n, d]); // dS·K/√D [B, H, n, D]
        const dkc = pad(freeing(tf.matMul(ds, qc, true, false), ds)); // dSᵀ·Q/√D (qc carries the scale)
        return [dqc, tf.add(dk, dkc), tf.add(dv, dvc)] as tf.Tensor4D[];
      });
      tf.dispose([dk, dv]);
      dqs.push(dq!);
      dk = dkNext!;
      dv = dvNext!;
    }
    const dq = dqs.length === 1 ? dqs[0]! : tf.concat(dqs, 2); // [B, H, T, D]
    return [tf.transpose(dq, [0, 2, 1, 3]), tf.transpose(dk, [0, 2, 1, 3]), tf.transpose(dv, [0, 2, 1, 3])];
  });
}
