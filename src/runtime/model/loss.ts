import * as tf from '../tf.js';
import { IGNORE_INDEX } from '../../model-spec/labels.js';
import { lossChunking } from '../../model-spec/memory.js';
import type { FrozenLinear } from './matmul.js';

/**
 * The causal-LM loss from the final hidden states, with the lm_head folded in and cut into row chunks.
 *
 * Mean cross-entropy of position t predicting label t+1 (Hugging Face's shift) over labels ≠ -100; a batch
 * with no counted label has loss 0 (and zero gradient) rather than NaN, so a fully masked micro-batch cannot
 * stop a run. For each chunk of rows: logits = h Wᵀ [n, V], loss += Σ scaleₙ (logsumexp(logitsₙ) − logitsₙ[tₙ]).
 * The gradient is written out without a oneHot: d logits = (softmax − onehot(t)) · c with cₙ = scaleₙ·dy, so
 *     dh = (softmax · c) W − c · W[t]
 * whose second term is a gather of W's target rows. The [N, V] logits never exist at once: a chunk holds
 * about 32 MiB of them, and its temporaries go before the next chunk's (for Qwen2.5's 151,936-token vocabulary
 * the whole [512, V] is 311 MB). A chunk's softmax is kept for the backward pass when all of them together stay
 * under 64 MiB (the reference config: one 4 MiB chunk, so no extra product); otherwise it is recomputed from h
 * in the backward pass, one extra head product per chunk. The sizes are model-spec's (memory.ts lossChunking),
 * which the memory plan counts from.
 */

/** How the loss is cut; the defaults follow from the vocabulary (lossChunking; tests force both). */
export interface ChunkOptions {
  chunkRows?: number;
  keepSoftmax?: boolean;
}

/** hidden [N = B·T, E], labels [B, T] → the mean next-token cross-entropy of head(hidden). */
export function headLoss(hidden: tf.Tensor2D, head: FrozenLinear, labels: tf.Tensor2D, opts: ChunkOptions = {}): tf.Scalar {
  return tf.tidy(() => {
    const { targets, scale } = shiftedTargets(labels);
    return chunkedCrossEntropy(hidden, head, targets, scale, opts);
  });
}

/** Labels shifted left by one ([N], the last position of each row ignored), 0 where ignored, and 1/count weights. */
function shiftedTargets(labels: tf.Tensor2D): { targets: tf.Tensor1D; scale: tf.Tensor1D } {
  const [b, t] = labels.shape;
  const ignoreLast = tf.fill([b, 1], IGNORE_INDEX, 'int32');
  const shifted = tf.reshape(tf.concat([tf.slice(tf.cast(labels, 'int32'), [0, 1], [b, t - 1]), ignoreLast], 1), [b * t]); // [N]
  const counted = tf.notEqual(shifted, IGNORE_INDEX); // [N]
  const targets = tf.where(counted, shifted, tf.zerosLike(shifted)) as tf.Tensor1D; // [N]
  const weights = tf.cast(counted, 'float32'); // [N]
  const scale = tf.div(weights, tf.maximum(tf.sum(weights), 1)) as tf.Tensor1D; // [N]: 1/count where counted, else 0
  return { targets, scale };
}

/** Row ranges [from, rows] covering n rows in chunks of `size`. */
function chunks(n: number, size: number): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  for (let from = 0; from < n; from += size) out.push([from, Math.min(size, n - from)]);
  return out;
}

function chunkedCrossEntropy(hidden: tf.Tensor2D, head: FrozenLinear, targets: tf.Tensor1D, scale: tf.Tensor1D, opts: ChunkOptions): tf.Scalar {
  const n = hidden.shape[0];
  const v = head.outFeatures;
  const chunking = lossChunking(n, v);
  const parts = chunks(n, opts.chunkRows ?? chunking.rows);
  const keep = opts.keepSoftmax ?? chunking.keepSoftmax;
  const rowsOf = <T extends tf.Tensor>(x: T, [from, rows]: [number, number]): T =>
    (parts.length === 1 ? x : tf.slice(x, from, rows)) as T;
  /** softmax(logits) [rows, V] and the chunk's Σ scale·(lse − picked). */
  const forwardChunk = (h: tf.Tensor2D, t: tf.Tensor1D, s: tf.Tensor1D): { probs: tf.Tensor2D; loss: tf.Scalar } => {
    const rows = h.shape[0];
    const logits = head.apply(h); // [rows, V]
    const shifted = tf.sub(logits, tf.max(logits, -1, true)); // [rows, V]
    const exp = tf.exp(shifted); // [rows, V]
    const sum = tf.sum(exp, -1, true); // [rows, 1]
    const flat = tf.add(tf.mul(tf.range(0, rows, 1, 'int32'), tf.scalar(v, 'int32')), t); // [rows] into [rows·V]
    const picked = tf.gather(tf.reshape(shifted, [rows * v]), flat); // [rows]
    const perRow = tf.sub(tf.reshape(tf.log(sum), [rows]), picked); // [rows] −log p(target)
    return { probs: tf.div(exp, sum) as tf.Tensor2D, loss: tf.sum(tf.mul(perRow, s)) as tf.Scalar };
  };
  // A trained head (modules_to_save = [lm_head]) is an input of the custom op too, so its gradient
  // dW = dLogitsᵀ h reaches the optimizer; a frozen head gets none.
  const trained = head.trainableWeight();
  const trainHead = trained !== undefined && trained.trainable;
  const f = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
    const x = args[0] as tf.Tensor2D;
    const save = args[args.length - 1] as tf.GradSaveFunc;
    const kept: tf.Tensor2D[] = [];
    let total: tf.Tensor = tf.scalar(0);
    // Each chunk in a tidy of its own: a custom op's forward runs in the caller's scope, so without one every chunk's
    // logits, exp and softmax stayed live until the whole loss was done, ~4 float32 [N, V] at once.
    for (const part of parts) {
      const { probs, loss } = tf.tidy((): { probs?: tf.Tensor2D; loss: tf.Scalar } => {
        const c = forwardChunk(rowsOf(x, part), rowsOf(targets, part), rowsOf(scale, part));
        return keep ? c : { loss: c.loss };
      });
      total = tf.add(total, loss);
      if (probs) kept.push(probs);
    }
    // Closure tensors die with the caller's tidy before the backward pass; saved ones are kept for it.
    save([x, targets, scale, ...kept]);
    return {
      value: total as tf.Scalar,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]): tf.Tensor | tf.Tensor[] => {
        const [sx, st, ss, ...probs] = saved as [tf.Tensor2D, tf.Tensor1D, tf.Tensor1D, ...tf.Tensor2D[]];
        let dW: tf.Tensor2D | undefined;
        const grads = parts.map((part, i) =>
          tf.tidy(() => {
            const t = rowsOf(st, part);
            const h = rowsOf(sx, part); // [rows, E]
            const coef = tf.reshape(tf.mul(rowsOf(ss, part), dy), [part[1], 1]); // [rows, 1]
            const p = probs[i] ?? forwardChunk(h, t, rowsOf(ss, part)).probs; // [rows, V]
            if (trainHead) {
              // The whole d logits, onehot included ([rows, V] once more, only when lm_head trains).
              const dLogits = tf.sub(tf.mul(p, coef), tf.mul(tf.oneHot(t, v), coef)) as tf.Tensor2D; // [rows, V]
              const chunkDW = tf.matMul(dLogits, h, true, false); // [V, rows]×[rows, E] → [V, E]
              const acc = dW ? tf.add(dW, chunkDW) : chunkDW;
              if (dW) dW.dispose();
              dW = tf.keep(acc as tf.Tensor2D);
              return head.backward(dLogits); // [rows, E]
            }
            const dLogits = tf.mul(p, coef) as tf.Tensor2D; // [rows, V]: the softmax term; the onehot term below
            return tf.sub(head.backward(dLogits), tf.mul(head.rows(t), coef)) as tf.Tensor2D; // [rows, E]
          }),
        );
        const dx = parts.length === 1 ? grads[0]! : tf.concat(grads, 0); // [N, E]
        return trainHead ? [dx, dW!] : dx;
      },
    };
  });
  return (trainHead ? f(hidden, trained) : f(hidden)) as tf.Scalar;
}
