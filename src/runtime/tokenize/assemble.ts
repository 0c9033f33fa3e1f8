import { IGNORE_INDEX } from '../../model-spec/labels.js';
import type { SplitWriter } from './dataset.js';

export interface AssembleOptions {
  maxLength: number;
  truncation: boolean;
  /** Prepended when set (add_bos and the tokenizer has a BOS not already in the prompt). */
  bosId?: number;
  /** Appended after the response when set (add_eos). */
  eosId?: number;
  trainOnInputs: boolean;
}

export type Assembled =
  | { ids: Int32Array; labels: Int32Array; truncated: boolean }
  | { drop: 'too_long' | 'no_response' };

/**
 * One training example: [BOS] prompt response [EOS], labels -100 on BOS and prompt unless
 * train_on_inputs. Longer than max_length: with truncation the sequence is cut on the right,
 * so the response (and its EOS) loses its tail first and the prompt stays whole, as axolotl
 * and HF's right-side truncation do; an example whose response is cut away entirely has
 * nothing to learn and is dropped. Without truncation a long example is dropped.
 */
export function assemble(prompt: ArrayLike<number>, response: ArrayLike<number>, o: AssembleOptions): Assembled {
  const head = o.bosId !== undefined ? 1 : 0;
  const promptEnd = head + prompt.length;
  const total = promptEnd + response.length + (o.eosId !== undefined ? 1 : 0);
  if (total > o.maxLength && !o.truncation) return { drop: 'too_long' };
  const length = Math.min(total, o.maxLength);
  if (!o.trainOnInputs && promptEnd >= length) return { drop: 'no_response' };
  const ids = new Int32Array(length);
  if (head) ids[0] = o.bosId!;
  // Copy as far as the length allows; `set` would throw past the end.
  const p = Math.min(prompt.length, length - head);
  for (let i = 0; i < p; i++) ids[head + i] = prompt[i];
  const r = Math.min(response.length, length - promptEnd);
  for (let i = 0; i < r; i++) ids[promptEnd + i] = response[i];
  if (o.eosId !== undefined && total <= length) ids[length - 1] = o.eosId;
  const labels = ids.slice();
  if (!o.trainOnInputs) labels.fill(IGNORE_INDEX, 0, Math.min(promptEnd, length));
  else if (head) labels[0] = IGNORE_INDEX; // BOS is never a target
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
