/**
 * The order examples are seen in: a seeded shuffle per epoch, cut into micro-batches of
 * `batchSize`, `gradAccum` micro-batches per optimizer step (fewer for the last step of an
 * epoch). Right padding: ids with the pad id, labels with -100 so the loss never sees them.
 *
 * The order of epoch e is a pure function of (seed, e), so the whole data position is the pair
 * { epoch, micro } — what a checkpoint saves to resume exactly.
 */

import { seededShuffle } from '../random.js';
import { IGNORE_INDEX } from '../../model-spec/labels.js';


export interface Example {
  ids: Int32Array;
  labels: Int32Array;
}

/** One split of a token dataset (the tokenizer stage's artifact, or an inline one in tests). */
export interface ExampleSource {
  count: number;
  example(i: number): Example;
}

/** A right-padded micro-batch, row-major [rows, cols]. */
export interface Batch {
  ids: Int32Array;
  labels: Int32Array;
  rows: number;
  cols: number;
  /** Positions the loss counts: labels other than -100 after the shift (position 0 never counts). */
  lossTokens: number;
  /** Real (non-pad) input tokens, for tokens/s. */
  inputTokens: number;
}

export interface DataPosition {
  epoch: number;
  /** Index of the next micro-batch within the epoch. */
  micro: number;
}

/** Mixes several integers into one 32-bit seed (so seed+epoch and seed+step streams differ). */
export function mixSeed(...parts: number[]): number {
  let h = 0x811c9dc5;
  for (const p of parts) {
    h = Math.imul(h ^ (p >>> 0), 0x01000193) >>> 0;
    h = Math.imul(h ^ (h >>> 13), 0x5bd1e995) >>> 0;
  }
  return h >>> 0;
}

/** Fisher–Yates with a seeded stream: the example order of one epoch. */
export function epochOrder(count: number, seed: number, epoch: number): Int32Array {
  return seededShuffle(Int32Array.from({ length: count }, (_, i) => i), mixSeed(seed, epoch, 0x5eed));
}

/** Pads examples to the longest one: ids with `padId`, labels with -100. */
export function collate(examples: Example[], padId: number): Batch {
  const rows = examples.length;
  const cols = Math.max(1, ...examples.map((e) => e.ids.length));
  const ids = new Int32Array(rows * cols).fill(padId);
  const labels = new Int32Array(rows * cols).fill(IGNORE_INDEX);
  let lossTokens = 0;
  let inputTokens = 0;
  examples.forEach((e, r) => {
    ids.set(e.ids, r * cols);
    labels.set(e.labels, r * cols);
    inputTokens += e.ids.length;
    for (let c = 1; c < e.labels.length; c++) if (e.labels[c] !== IGNORE_INDEX) lossTokens++;
  });
  return { ids, labels, rows, cols, lossTokens, inputTokens };
}

export interface StepBatches {
  micros: Batch[];
  /** Epoch the batches came from. */
  epoch: number;
  /** True when this step used the last micro-batch of its epoch. */
  epochEnd: boolean;
}

export class BatchPlan {
  readonly microsPerEpoch: number;
  readonly stepsPerEpoch: number;
  private order: Int32Array | undefined;
  private orderEpoch = -1;
  private pos: DataPosition = { epoch: 0, micro: 0 };

  constructor(
    private readonly source: ExampleSource,
    private readonly cfg: { batchSize: number; gradAccum: number; seed: number; padId: number },
  ) {
    if (source.count === 0) throw new Error('BatchPlan needs at least one example');
    this.microsPerEpoch = Math.ceil(source.count / cfg.batchSize);
    this.stepsPerEpoch = Math.ceil(this.microsPerEpoch / cfg.gradAccum);
  }

  get position(): DataPosition {
    return { ...this.pos };
  }

  set position(p: DataPosition) {
    this.pos = { ...p };
  }

  /** Fractional epochs completed, for metrics (HF's `epoch` field). */
  get epochProgress(): number {
    return this.pos.epoch + this.pos.micro / this.microsPerEpoch;
  }

  /** The micro-batches of the next optimizer step; advances the position. */
  nextStep(): StepBatches {
    const epoch = this.pos.epoch;
    const order = this.orderOf(epoch);
    const micros: Batch[] = [];
    while (micros.length < this.cfg.gradAccum && this.pos.micro < this.microsPerEpoch) {
      const start = this.pos.micro * this.cfg.batchSize;
      const idx = order.subarray(start, Math.min(start + this.cfg.batchSize, order.length));
      micros.push(collate([...idx].map((i) => this.source.example(i)), this.cfg.padId));
      this.pos.micro++;
    }
    const epochEnd = this.pos.micro >= this.microsPerEpoch;
    if (epochEnd) this.pos = { epoch: epoch + 1, micro: 0 };
    return { micros, epoch, epochEnd };
  }

  private orderOf(epoch: number): Int32Array {
    if (this.orderEpoch !== epoch || !this.order) {
      this.order = epochOrder(this.source.count, this.cfg.seed, epoch);
      this.orderEpoch = epoch;
    }
    return this.order;
  }
}

/** Fixed-order batches over a whole split (evaluation: no shuffle, no accumulation). */
export function* sequentialBatches(source: ExampleSource, batchSize: number, padId: number): Generator<Batch> {
  for (let start = 0; start < source.count; start += batchSize) {
    const end = Math.min(start + batchSize, source.count);
    const examples: Example[] = [];
    for (let i = start; i < end; i++) examples.push(source.example(i));
    yield collate(examples, padId);
  }
}
