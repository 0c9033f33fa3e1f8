import { IGNORE_INDEX } from '../../model-spec/labels.js';
import type { SplitWriter } from './dataset.js';
import type { EncodedPiece } from './pieces.js';

export interface AssembleOptions {
  maxLength: number;
  truncation: boolean;
  /** Special tokens before the text (BOS): never targets. */
  prefix: readonly number[];
  /** Special tokens after the text (the tokenizer's own EOS): targets, so the model learns to stop. */
  suffix: readonly number[];
  /** Appended (a target) unless the sequence already ends with it: axolotl's add_eos. */
  eosId?: number;
  trainOnInputs: boolean;
}

export type Assembled =
  | { ids: Int32Array; labels: Int32Array; truncated: boolean }
  | { drop: 'too_long' | 'no_response' };

/**
 * One training example: prefix, the encoded text (pieces.ts: prompt and response joined), suffix,
 * then EOS unless the sequence already ends with it. Labels are the ids of trained tokens and
 * -100 elsewhere (everything but the prefix with train_on_inputs). Longer than max_length: with
 * truncation the sequence is cut on the right, so the response (and its EOS) loses its tail first
 * and the prompt stays whole, as Stanford Alpaca's train.py and axolotl cut; an example with no
 * target left has nothing to learn and is dropped. Without truncation a long example is dropped.
 */
export function assemble(text: EncodedPiece, o: AssembleOptions): Assembled {
  const last = o.suffix.length ? o.suffix[o.suffix.length - 1] : text.ids.length ? text.ids[text.ids.length - 1] : o.prefix[o.prefix.length - 1];
  const eos = o.eosId !== undefined && last !== o.eosId ? 1 : 0;
  const total = o.prefix.length + text.ids.length + o.suffix.length + eos;
  if (total > o.maxLength && !o.truncation) return { drop: 'too_long' };
  const length = Math.min(total, o.maxLength);
  // Only the kept positions are written: a cut tail is never built.
  const ids = new Int32Array(length);
  const labels = new Int32Array(length).fill(IGNORE_INDEX);
  let at = 0, targets = 0;
  for (let k = 0; k < o.prefix.length && at < length; k++) ids[at++] = o.prefix[k];
  const trainAll = o.trainOnInputs;
  for (let i = 0; i < text.ids.length && at < length; i++, at++) {
    const id = text.ids[i];
    ids[at] = id;
    if (trainAll || text.trained[i]) {
      labels[at] = id;
      targets++;
    }
  }
  for (let k = 0; k < o.suffix.length && at < length; k++, targets++) labels[at] = ids[at++] = o.suffix[k];
  if (eos && at < length) {
    labels[at] = ids[at++] = o.eosId!;
    targets++;
  }
  if (!trainAll && targets === 0) return { drop: 'no_response' };
  return { ids, labels, truncated: total > length };
}

/**
 * Greedy packing in order: examples are appended to the current sequence until the next one
 * would overflow max_length, then the sequence is written. Each example keeps its labels,
 * except that its first token is never a target (it would be "predicted" from the previous
 * example's end). Segment starts are recorded so attention can keep examples apart.
 */
export class Packer {
  private ids: Int32Array;
  private labels: Int32Array;
  private used = 0;
  private segments: number[] = [];

  constructor(private readonly out: SplitWriter, private readonly maxLength: number) {
    this.ids = new Int32Array(maxLength);
    this.labels = new Int32Array(maxLength);
  }

  add(ids: Int32Array, labels: Int32Array): void {
    if (this.used + ids.length > this.maxLength) this.flush();
    this.segments.push(this.used);
    this.ids.set(ids, this.used);
    this.labels.set(labels, this.used);
    this.labels[this.used] = IGNORE_INDEX;
    this.used += ids.length;
  }

  flush(): void {
    if (!this.used) return;
    this.out.add(this.ids.subarray(0, this.used), this.labels.subarray(0, this.used), this.segments);
    this.used = 0;
    this.segments = [];
  }
}
