import * as tf from '../tf.js';
import type { CausalLM } from './api.js';

export interface ScoreResult {
  /** Tokens in the scored sequence (the first has no prediction, so logprobs has one fewer). */
  tokens: number;
  /** Mean next-token cross-entropy: the model's `loss` with every position counted. */
  loss: number;
  /** logprobs[i] = log p(ids[i+1] | ids[0..i]). */
  logprobs: number[];
}

/** How well the model predicts a token sequence. */
export function score(model: CausalLM, ids: number[]): ScoreResult {
  if (ids.length < 2) throw new Error('score needs at least two tokens');
  const t = ids.length;
  const input = tf.tensor2d([ids], [1, t], 'int32');
  try {
    const { loss, picked } = tf.tidy(() => {
      const logProbs = tf.logSoftmax(tf.reshape(model.forward(input), [t, -1]), -1); // [T, V]
      const next = tf.tensor1d(ids.slice(1), 'int32'); // [T−1]
      const rows = tf.slice(logProbs, [0, 0], [t - 1, -1]); // [T−1, V]
      const picked = tf.sum(tf.mul(rows, tf.oneHot(next, model.config.vocabSize)), -1); // [T−1]
      return { loss: model.loss(input, input), picked };
    });
    // Host syncs: the result is for the user.
    const result = { tokens: t, loss: loss.dataSync()[0], logprobs: Array.from(picked.dataSync()) };
    tf.dispose([loss, picked]);
    return result;
  } finally {
    input.dispose();
  }
}
