import * as tf from '../tf.js';
import type { CausalLM } from '../model/api.js';
import { seededShuffle } from '../random.js';
import { mixSeed, sequentialBatches, type Batch, type ExampleSource } from './batches.js';

/**
 * At most `max` examples of an eval split, the same ones at every evaluation and on every run with
 * the same seed: a seeded sample, kept in the split's order. (The first `max` would do after
 * preprocess's shuffle, but not with `shuffle = false`, where they are the file's first rows.)
 */
export function evalSubset(source: ExampleSource, max: number | undefined, seed: number): ExampleSource {
  if (max === undefined || max >= source.count) return source;
  const picked = seededShuffle(Int32Array.from({ length: source.count }, (_, i) => i), mixSeed(seed, 0xe7a1)).slice(0, max).sort();
  return { count: picked.length, example: (i) => source.example(picked[i]!) };
}

/** Called after each eval batch: examples done so far and in all. */
export type EvalProgress = (done: number, total: number) => void;

/** Mean loss per counted token over a whole split, no dropout: one host sync at the end. */
export function evalLoss(model: CausalLM, source: ExampleSource, batchSize: number, padId: number, onBatch?: EvalProgress): number {
  let sum: tf.Scalar = tf.scalar(0);
  let tokens = 0;
  let done = 0;
  for (const batch of sequentialBatches(source, batchSize, padId)) {
    done += batch.rows;
    if (batch.lossTokens > 0) {
      const next = tf.tidy(() => {
        const [ids, labels] = toTensors(batch);
        return tf.add(sum, tf.mul(model.loss(ids, labels, { training: false }), batch.lossTokens)) as tf.Scalar;
      });
      sum.dispose();
      sum = next;
      tokens += batch.lossTokens;
    }
    onBatch?.(done, source.count);
  }
  const total = sum.dataSync()[0]!; // host sync: the eval result
  sum.dispose();
  return tokens > 0 ? total / tokens : NaN;
}

/**
 * A progress callback that writes one line at most every `seconds` (a plain line, not a bar, so that
 * redirected output shows that a long evaluation is alive). No line for the last batch: the
 * evaluation's own result line follows it.
 */
export function throttledEvalProgress(write: (line: string) => void, label: string, seconds: number): EvalProgress {
  const start = performance.now();
  let last = start;
  return (done, total) => {
    const now = performance.now();
    if (done >= total || now - last < seconds * 1000) return;
    last = now;
    const elapsed = (now - start) / 1000;
    const eta = (elapsed / done) * (total - done);
    write(`${label}: ${done}/${total} examples, ${elapsed.toFixed(0)} s elapsed, about ${eta.toFixed(0)} s left`);
  };
}

function toTensors(b: Batch): [tf.Tensor2D, tf.Tensor2D] {
  return [tf.tensor2d(b.ids, [b.rows, b.cols], 'int32'), tf.tensor2d(b.labels, [b.rows, b.cols], 'int32')];
}
