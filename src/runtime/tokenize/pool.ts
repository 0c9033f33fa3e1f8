/**
 * Tokenization on several threads: the stage's own and worker_threads, each with its own tokenizer and
 * RowTokenizer (rows.ts), take whole batches of consecutive rows; the stage asks in row order and takes
 * the replies in the same order, so what it writes does not depend on how many threads encoded it.
 */
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { FtcError } from '../../errors.js';
import type { RowBatch, RowRules, RowTokenizer, TokenizedBatch } from './rows.js';

/** What every worker starts from. */
export interface WorkerSetup {
  json: string;
  rules: RowRules;
}

export interface ToWorker {
  id: number;
  batch: RowBatch;
}

export type FromWorker = { id: number; result: TokenizedBatch } | { id: number; error: WireError };

/** An error as it crosses threads: FtcErrors keep code, place and hint. */
export interface WireError {
  message: string;
  stack?: string;
  code?: string;
  where?: FtcError['where'];
  hint?: string;
}

export function wireError(e: unknown): WireError {
  if (e instanceof FtcError) return { message: e.message, code: e.code, where: e.where, hint: e.hint };
  if (e instanceof Error) return { message: e.message, stack: e.stack };
  return { message: String(e) };
}

/** The error the stage throws, as one thread would have thrown it: same class, code and message. */
function fromWire(e: WireError): Error {
  if (e.code) return new FtcError(e.code, e.message, e.where, e.hint);
  const err = new Error(e.message);
  if (e.stack) err.stack = `${e.stack}\n    --- (in a tokenizer worker thread)`;
  return err;
}

/**
 * Input bytes (the preprocessed examples) per thread before `workers = auto` adds one. A worker first
 * loads the tokenizer (0.3-0.6 s for 150K entries) and fills its own word cache, which a small input
 * never earns back. Measured (bench/data.ts, docs/performance.md; 2 cores, load average 5-9): with the
 * word cache, 2 threads lost at 1.3, 6.5 and 13 MB of input and won at 26 MB (6.3 s against 8.2 s,
 * and 8.1 against 9.9 in another run), so 2 threads from 24 MiB.
 */
export const BYTES_PER_WORKER = 12 << 20;

/**
 * Threads that tokenize: a number is taken as given (1: the stage's own thread, no workers); `auto`
 * is every core, but one more thread only per BYTES_PER_WORKER of input, and only with the word cache
 * (`wordCache`): otherwise the library encodes whole texts, and its encodeBatch already spreads each
 * batch over every core from the stage's own thread; there 2 threads never won (lost at every size
 * up to 26 MB on 2 cores, by 3% to 70%). Unmeasured on more cores, where the stage's own per-token work
 * (row parsing, masks, writing) may come to bound it.
 */
export function resolveTokenizerWorkers(setting: number | 'auto' | undefined, inputBytes: number, wordCache: boolean, cores = availableParallelism()): number {
  if (typeof setting === 'number') return Math.max(1, Math.floor(setting));
  if (!wordCache) return 1;
  return Math.max(1, Math.min(cores, Math.floor(inputBytes / BYTES_PER_WORKER)));
}

interface Pending {
  resolve: (r: TokenizedBatch) => void;
  reject: (e: Error) => void;
}

/** A worker thread, or (worker undefined) the stage's own thread with its RowTokenizer. */
class Member {
  readonly pending = new Map<number, Pending>();
  constructor(readonly worker: Worker | undefined) {}
}

export class TokenizerPool {
  private nextId = 0;
  private closing = false;
  private failure: Error | undefined;

  private constructor(private readonly members: Member[], private readonly local: RowTokenizer) {}

  /**
   * `threads` threads: the stage's own (it already holds the tokenizer, so one load and one cold word
   * cache fewer than a worker) and threads - 1 workers.
   */
  static start(threads: number, setup: WorkerSetup, local: RowTokenizer): TokenizerPool {
    const workers = Array.from({ length: threads - 1 }, () => new Member(new Worker(new URL('./worker.js', import.meta.url), { workerData: setup })));
    const pool = new TokenizerPool([new Member(undefined), ...workers], local);
    for (const m of workers) pool.listen(m);
    return pool;
  }

  /** Encodes one batch on the least busy thread (the stage's own when none is busier). */
  tokenize(batch: RowBatch): Promise<TokenizedBatch> {
    if (this.failure) return Promise.reject(this.failure);
    const m = this.members.reduce((a, b) => (b.pending.size < a.pending.size ? b : a));
    const id = this.nextId++;
    const reply = new Promise<TokenizedBatch>((resolve, reject) => m.pending.set(id, { resolve, reject }));
    if (m.worker) m.worker.postMessage({ id, batch } satisfies ToWorker);
    else {
      this.local.tokenize(batch).then(
        (r) => m.pending.get(id)?.resolve(r),
        (e: unknown) => m.pending.get(id)?.reject(e as Error),
      ).finally(() => m.pending.delete(id));
    }
    return reply;
  }

  async close(): Promise<void> {
    this.closing = true;
    await Promise.all(this.members.map((m) => m.worker?.terminate()));
  }

  private listen(m: Member): void {
    const worker = m.worker!;
    worker.on('message', (msg: FromWorker) => {
      const p = m.pending.get(msg.id);
      m.pending.delete(msg.id);
      if ('error' in msg) p?.reject(fromWire(msg.error));
      else p?.resolve(msg.result);
    });
    // A crash (not an error of one batch) fails everything the worker still owes.
    const crash = (e: Error) => {
      this.failure ??= e;
      for (const p of m.pending.values()) p.reject(e);
      m.pending.clear();
    };
    worker.on('error', (e) => crash(new Error(`tokenizer worker crashed: ${e.message}`, { cause: e })));
    worker.on('exit', (code) => {
      if (!this.closing) crash(new Error(`tokenizer worker stopped unexpectedly (exit code ${code})`));
    });
  }
}
