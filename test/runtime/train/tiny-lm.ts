import * as tf from '../../../src/runtime/tf.js';
import type { CausalLM, ForwardOptions } from '../../../src/runtime/model/api.js';
import type { LlamaConfig } from '../../../src/runtime/model/config.js';
import { peftKey } from '../../../src/runtime/model/peft.js';
import type { Example, ExampleSource } from '../../../src/runtime/train/batches.js';

/**
 * A tiny stand-in for the Llama model, written here from tfjs ops so the trainer can be tested on its
 * own: frozen embedding E [V, D] and head W [V, D], plus one LoRA pair on the "hidden" state,
 *   logits = E[ids] Wᵀ + s · B A dropout(E[ids] Wᵀ... )  (a bigram model with a low-rank correction).
 * The adapter is named with PEFT keys so checkpoints go through the real saveAdapter/loadAdapter.
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

  const forward = (ids: tf.Tensor2D, o: ForwardOptions = {}): tf.Tensor3D =>
    tf.tidy(() => {
      const [b, t] = ids.shape;
      let x = tf.gather(E, tf.reshape(ids, [-1])); // [B·T, D]
      const base = tf.matMul(x, W, false, true); // [B·T, V]
      if (o.training && dropout > 0) x = tf.dropout(x, dropout, undefined, o.dropoutSeed);
      const delta = tf.matMul(tf.matMul(x, A, false, true), B, false, true); // [B·T, V]
      return tf.reshape(tf.add(base, delta), [b, t, V]) as tf.Tensor3D;
    });

  const loss = (ids: tf.Tensor2D, labels: tf.Tensor2D, o: ForwardOptions = {}): tf.Scalar =>
    tf.tidy(() => {
      if (o.training) trainingCalls++;
      const [b, t] = ids.shape;
      const logits = tf.slice(forward(ids, o), [0, 0, 0], [b, t - 1, V]); // predicts position t+1
      const target = tf.slice(labels, [0, 1], [b, t - 1]);
      const mask = tf.cast(tf.notEqual(target, -100), 'float32');
      const safe = tf.maximum(target, 0);
      const logp = tf.logSoftmax(logits);
      const picked = tf.sum(tf.mul(logp, tf.oneHot(safe, V)), -1);
      const l = tf.div(tf.neg(tf.sum(tf.mul(picked, mask))), tf.sum(mask)) as tf.Scalar;
      const poisoned = opts.nanAfterCalls !== undefined && trainingCalls > opts.nanAfterCalls;
      return poisoned ? (tf.mul(l, NaN) as tf.Scalar) : l;
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

/** A toy language: each sequence counts up modulo `vocab`, from a seeded start; the loss is on the second half. */
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
