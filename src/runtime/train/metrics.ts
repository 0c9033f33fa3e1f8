import { appendFileSync, writeFileSync } from 'node:fs';

/**
 * One line of metrics.jsonl. Training lines carry loss/lr/grad_norm/tokens_per_s; evaluation
 * lines carry eval_loss/eval_ppl/eval_examples/eval_seconds; both carry the optimizer step and the (fractional) epoch.
 */
export interface MetricsRecord {
  step: number;
  epoch: number;
  loss?: number;
  lr?: number;
  grad_norm?: number;
  tokens_per_s?: number;
  eval_loss?: number;
  eval_ppl?: number;
  /** Examples the evaluation covered (all of the eval split, or eval_max_examples of it). */
  eval_examples?: number;
  /** Wall seconds the evaluation took. */
  eval_seconds?: number;
}

/** Appends records as JSON lines; `reset` rewrites the file with a history (after a resume). */
export class MetricsLog {
  readonly records: MetricsRecord[] = [];

  constructor(private readonly file?: string) {}

  reset(history: MetricsRecord[]): void {
    this.records.length = 0;
    this.records.push(...history);
    if (this.file) writeFileSync(this.file, history.map((r) => JSON.stringify(r) + '\n').join(''));
  }

  add(record: MetricsRecord): void {
    this.records.push(record);
    if (this.file) appendFileSync(this.file, JSON.stringify(record) + '\n');
  }

  /** The training losses in step order (what determinism and resume tests compare). */
  trainLosses(): number[] {
    return this.records.filter((r) => r.loss !== undefined).map((r) => r.loss!);
  }

  evalLosses(): number[] {
    return this.records.filter((r) => r.eval_loss !== undefined).map((r) => r.eval_loss!);
  }
}

/** Parses metrics.jsonl back (the report and tests read it). */
export function parseMetrics(text: string): MetricsRecord[] {
  return text
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as MetricsRecord);
}
