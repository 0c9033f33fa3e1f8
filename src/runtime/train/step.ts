import * as tf from '../tf.js';
import type { CausalLM, ForwardOptions } from '../model/api.js';
import { withMemoryStage } from '../kernels/heap.js';
import { deriveSeed } from '../model/prng.js';
import { IGNORE_INDEX } from '../../model-spec/labels.js';
import type { Batch } from './batches.js';

/**
 * The forward/backward phase of one optimizer step, shared by the in-process trainer, the data-parallel
 * workers (parallel/worker.ts) and the benchmark (bench/train.ts), so all three run the same code.
 *
 * A step's micro-batches are cut into shares of whole rows (examples). Each share's loss is its mean over its
 * counted tokens, weighted by countedTokens(share) / countedTokens(step), so the weighted sum over all shares,
 * and its gradient, equal the step's token-mean however the rows are spread over micro-batches and workers.
 * Every row carries its own dropout seed, a function of (run seed, step, micro-batch, row), never of who
 * computes it.
 */

/** Whole rows of one micro-batch, with their dropout seeds and their weight in the step's loss. */
export interface Share {
  ids: Int32Array;
  labels: Int32Array;
  rows: number;
  cols: number;
  rowSeeds: number[];
  /** countedTokens(share) / countedTokens(step). */
  weight: number;
}

/** Adapter gradients by PEFT name, and the weighted loss of the shares they came from, on the device. */
export interface StepGradients {
  grads: Record<string, tf.Tensor>;
  loss: tf.Scalar;
}

/** Who computes a step's gradients: this thread (`localGradients`) or a pool of workers (parallel/pool.ts). */
export interface GradientEngine {
  gradients(micros: Batch[], microSeed: (micro: number) => number): Promise<StepGradients>;
}

/**
 * Cuts each micro-batch into `parts` contiguous row ranges (part p gets rows ⌊p·R/parts⌋ up to the next);
 * a part may be empty when a micro-batch has fewer rows than parts. Shares without counted tokens are dropped
 * (they add nothing to loss or gradient). Returns one list of shares per part.
 */
export function splitStep(micros: Batch[], microSeed: (micro: number) => number, parts: number): Share[][] {
  const stepTokens = micros.reduce((n, b) => n + b.lossTokens, 0);
  const out: Share[][] = Array.from({ length: parts }, () => []);
  if (stepTokens === 0) return out;
  micros.forEach((b, i) => {
    const seed = microSeed(i);
    for (let p = 0; p < parts; p++) {
      const from = Math.floor((p * b.rows) / parts);
      const to = Math.floor(((p + 1) * b.rows) / parts);
      if (to <= from) continue;
      const labels = b.labels.subarray(from * b.cols, to * b.cols);
      const counted = countedTokens(labels, b.cols);
      if (counted === 0) continue;
      out[p]!.push({
        ids: b.ids.subarray(from * b.cols, to * b.cols),
        labels,
        rows: to - from,
        cols: b.cols,
        rowSeeds: Array.from({ length: to - from }, (_, r) => deriveSeed(seed, from + r)),
        weight: counted / stepTokens,
      });
    }
  });
  return out;
}

/** Labels the loss counts: not -100, and not in column 0 (the shift leaves nothing to predict it). */
function countedTokens(labels: Int32Array, cols: number): number {
  let n = 0;
  for (let i = 0; i < labels.length; i++) if (i % cols !== 0 && labels[i] !== IGNORE_INDEX) n++;
  return n;
}

/** How the forward pass runs beyond training mode and seeds (gradient checkpointing). */
export type StepOptions = Pick<ForwardOptions, 'gradientCheckpointing'>;

/** Σ weight · ∇loss(share) over the shares, on this thread's device. No host sync. */
export function localGradients(model: CausalLM, shares: Share[], opts: StepOptions = {}): StepGradients {
  const params = model.adapterParams();
  const peftName = new Map([...params].map(([name, v]) => [v.name, name]));
  const varList = [...params.values()];
  let grads: Record<string, tf.Tensor> = {};
  let loss: tf.Scalar = tf.scalar(0);
  for (const share of shares) {
    // The weight scales the gradients after the tape, not the loss inside it: the same sum, one op fewer to differentiate.
    const { value, grads: g } = withMemoryStage('the forward/backward pass of a training step', () => tf.tidy(() => {
      const ids = tf.tensor2d(share.ids, [share.rows, share.cols], 'int32');
      const labels = tf.tensor2d(share.labels, [share.rows, share.cols], 'int32');
      const out = tf.variableGrads(() => model.loss(ids, labels, { ...opts, training: true, dropoutSeed: share.rowSeeds }), varList);
      const named = Object.entries(out.grads).map(([k, t]) => [peftName.get(k) ?? k, tf.mul(t, share.weight)]);
      return { value: tf.mul(out.value, share.weight) as tf.Scalar, grads: Object.fromEntries(named) as Record<string, tf.Tensor> };
    }));
    grads = addInto(grads, g);
    const sum = tf.add(loss, value) as tf.Scalar;
    tf.dispose([loss, value]);
    loss = sum;
  }
  return { grads, loss };
}

/** The in-process engine: every share on this thread. */
export function localEngine(model: CausalLM, opts: StepOptions = {}): GradientEngine {
  return { gradients: async (micros, microSeed) => localGradients(model, splitStep(micros, microSeed, 1)[0]!, opts) };
}

/** acc[k] += g[k], disposing the addends; keys new to `acc` are moved in. */
export function addInto(acc: Record<string, tf.Tensor>, g: Record<string, tf.Tensor>): Record<string, tf.Tensor> {
  for (const [k, t] of Object.entries(g)) {
    const prev = acc[k];
    if (prev) {
      acc[k] = tf.add(prev, t);
      prev.dispose();
      t.dispose();
    } else {
      acc[k] = t;
    }
  }
  return acc;
}
