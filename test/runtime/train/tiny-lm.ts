import * as tf from '../../../src/runtime/tf.js';
import type { CausalLM, ForwardOptions } from '../../../src/runtime/model/api.js';
import type { LlamaConfig } from '../../../src/model-spec/config.js';
import { peftKey } from '../../../src/runtime/model/peft.js';
import type { Example, ExampleSource } from '../../../src/runtime/train/batches.js';

/**
 * A tiny stand-in for the Llama model, so the trainer is tested on its own: a bigram model with frozen
 * embedding E [V, D] and head W [V, D], plus one LoRA pair A [r, D], B [V, r] on the head:
 *
 *   logits = x Wᵀ + (dropout(x) Aᵀ) Bᵀ,   x = E[ids]
 *
 * Its gradient is written out by hand (tf.customGrad): G = (softmax − onehot)·mask / N,
 * dB = Gᵀ h with h = dropout(x) Aᵀ, dA = (G B)ᵀ dropout(x). So the tests depend on no registered tfjs gradient.
 * The adapter uses PEFT keys so checkpoints go through the real saveAdapter/loadAdapter.
 */
export const A_KEY = peftKey(0, 'q_proj', 'lora_A');
export const B_KEY = peftKey(0, 'q_proj', 'lora_B');

export function tinyLM(opts: { vocab?: number; dim?: number; r?: number; seed?: number; dropout?: number; nanAfterCalls?: number } = {}): CausalLM {
  const V = opts.vocab ?? 12;
  const D = opts.dim ?? 8;
  const r = opts.r ?? 2;
  const seed = opts.seed ?? 1;
  const dropout = opts.dropout ?? 0;
  const E = tf.randomNormal([V, D], 0, 1, 'float32', seed);
  const W = tf.randomNormal([V, D], 0, 0.5, 'float32', seed + 1);
  // Both A and B non-zero, so the very first step already has gradients for both.
  const A = tf.variable(tf.randomUniform([r, D], -0.3, 0.3, 'float32', seed + 2), true);
  const B = tf.variable(tf.randomUniform([V, r], -0.1, 0.1, 'float32', seed + 3), true);
  let trainingCalls = 0;

  /** x [N, D] and its dropped-out copy for the adapter path. */
  const inputs = (ids: tf.Tensor2D, o: ForwardOptions) => {
    const x = tf.gather(E, tf.reshape(ids, [-1])) as tf.Tensor2D;
    // Per-example seed lists (what the trainer passes) become one string seed: the stand-in needs determinism, not per-row masks.
    const seed = Array.isArray(o.dropoutSeed) ? o.dropoutSeed.join(',') : o.dropoutSeed;
    const xd = o.training && dropout > 0 ? (tf.dropout(x, dropout, undefined, seed) as tf.Tensor2D) : x;
    return { x, xd };
  };
  const logitsOf = (x: tf.Tensor2D, xd: tf.Tensor2D, a: tf.Tensor, b: tf.Tensor) =>
    tf.add(tf.matMul(x, W, false, true), tf.matMul(tf.matMul(xd, a, false, true), b, false, true)) as tf.Tensor2D; // [N, V]

  const forward = (ids: tf.Tensor2D, o: ForwardOptions = {}): tf.Tensor3D =>
    tf.tidy(() => {
      const { x, xd } = inputs(ids, o);
      return tf.reshape(logitsOf(x, xd, A, B), [ids.shape[0], ids.shape[1], V]) as tf.Tensor3D;
    });

  const loss = (ids: tf.Tensor2D, labels: tf.Tensor2D, o: ForwardOptions = {}): tf.Scalar =>
    tf.tidy(() => {
      if (o.training) trainingCalls++;
      const poison = opts.nanAfterCalls !== undefined && trainingCalls > opts.nanAfterCalls ? NaN : 1;
      const [b, t] = ids.shape;
      const { x, xd } = inputs(ids, o);
      // Position i predicts label i+1: the last position has no target (its label is set to -100).
      const shifted = tf.concat([tf.slice(labels, [0, 1], [b, t - 1]), tf.fill([b, 1], -100, 'int32')], 1);
      const target = tf.reshape(shifted, [-1]);
      const mask = tf.cast(tf.notEqual(target, -100), 'float32'); // [N]
      const onehot = tf.oneHot(tf.cast(tf.maximum(target, 0), 'int32'), V); // [N, V]
      const count = tf.sum(mask);
      // Everything the gradient reads is saved: tensors only closed over would be gone after loss()'s tidy.
      const f = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
        const [a, bm, save] = args as [tf.Tensor, tf.Tensor, tf.GradSaveFunc];
        const logits = logitsOf(x, xd, a, bm);
        const logp = tf.logSoftmax(logits);
        const value = tf.mul(tf.div(tf.neg(tf.sum(tf.mul(tf.sum(tf.mul(logp, onehot), -1), mask))), count), poison);
        save([logits, xd, onehot, mask, count, a, bm]);
        return {
          value,
          gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
            const [lg, xs, oh, m, n, as, bs] = saved as tf.Tensor2D[];
            const G = tf.mul(tf.div(tf.mul(tf.sub(tf.softmax(lg!), oh!), tf.expandDims(m!, 1)), n!), tf.mul(dy, poison)) as tf.Tensor2D; // [N, V]
            const h = tf.matMul(xs!, as!, false, true); // [N, r]
            return [tf.matMul(tf.matMul(G, bs!), xs!, true, false), tf.matMul(G, h, true, false)]; // dA [r, D], dB [V, r]
          },
        };
      });
      return f(A, B) as tf.Scalar;
    });

  const params = new Map<string, tf.Variable>([[A_KEY, A], [B_KEY, B]]);
  return {
    config: { vocabSize: V } as LlamaConfig,
    forward,
    loss,
    adapterParams: () => params,
    dispose: () => {
      for (const t of [E, W, A, B]) t.dispose();
    },
  };
}

/** A toy language: each sequence counts up by `step` modulo `vocab` from a seeded start; the loss is on the second half. */
export function countingData(n: number, opts: { vocab?: number; len?: number; seed?: number; step?: number } = {}): ExampleSource {
  const V = opts.vocab ?? 12;
  const examples: Example[] = [];
  let s = opts.seed ?? 7;
  for (let i = 0; i < n; i++) {
    s = (s * 1103515245 + 12345) % 2147483648;
    const len = (opts.len ?? 6) - (i % 3); // varying lengths exercise padding
    const start = s % V;
    const ids = Int32Array.from({ length: len }, (_, k) => (start + k * (opts.step ?? 1)) % V);
    const labels = Int32Array.from(ids, (id, k) => (k < len / 2 ? -100 : id));
    examples.push({ ids, labels });
  }
  return { count: n, example: (i) => examples[i]! };
}
