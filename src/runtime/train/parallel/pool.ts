/**
 * Data-parallel training over worker_threads.
 *
 * `workers = N` means N threads compute each step: the main thread and N − 1 workers. Every micro-batch is
 * cut into N row ranges (step.ts `splitStep`); the main thread computes share 0 on its own model while the
 * workers compute theirs, then the adapter gradients are summed (allreduce.ts) and the trainer's loop
 * clips and steps the optimizer ONCE, on the main thread. The next step's message carries the updated
 * adapter to the workers, so every thread always computes with the same parameters. Eval and checkpoints
 * stay on the main thread. Results equal single-thread training up to float rounding of the sum.
 */
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { FtcError } from '../../../errors.js';
import * as tf from '../../tf.js';
import type { CausalLM } from '../../model/api.js';
import type { Batch } from '../batches.js';
import { localGradients, splitStep, type GradientEngine, type Share, type StepGradients, type StepOptions } from '../step.js';
import { reduceInto, type HostGrads } from './allreduce.js';
import type { FromWorker, ModelSource, ToWorker, WireError } from './protocol.js';

/**
 * How many threads train: a number is taken as given; `auto` is every core on the single-threaded backends
 * (wasm, cpu) and 1 on the native ones, whose kernels already use every core, and never more than
 * `fit`, the most workers the memory plan fits (src/model-spec/memory.ts workersThatFit). Never more than a
 * micro-batch has rows, since a share is whole rows.
 */
export function resolveWorkers(setting: number | 'auto' | undefined, backend: string, batchSize: number, fit?: number, machineCores = availableParallelism()): number {
  const auto = setting === undefined || setting === 'auto';
  const cores = backend === 'wasm' || backend === 'cpu' ? machineCores : 1;
  const wanted = auto ? Math.min(cores, fit ?? cores) : setting;
  return Math.max(1, Math.min(Math.floor(wanted), batchSize));
}

interface Pending {
  resolve: (m: { grads: HostGrads; loss: number }) => void;
  reject: (e: Error) => void;
}

class Member {
  readonly pending = new Map<number, Pending>();
  ready?: { resolve: () => void; reject: (e: Error) => void };
  constructor(readonly worker: Worker, readonly index: number) {}
}

export class WorkerPool implements GradientEngine {
  private nextId = 0;
  private closing = false;
  private failure: Error | undefined;

  private constructor(
    private readonly model: CausalLM,
    private readonly members: Member[],
    private readonly step: StepOptions,
  ) {}

  /** Starts `threads − 1` workers, each building its own copy of `source` on `backend`; rejects if one fails. */
  static async start(opts: { threads: number; backend: string; source: ModelSource; model: CausalLM; step?: StepOptions }): Promise<WorkerPool> {
    const members: Member[] = [];
    for (let i = 1; i < opts.threads; i++) members.push(new Member(new Worker(new URL('./worker.js', import.meta.url)), i));
    const pool = new WorkerPool(opts.model, members, opts.step ?? {});
    const ready = members.map((m) => pool.listen(m));
    for (const m of members) pool.post(m, { type: 'init', backend: opts.backend, source: opts.source, step: opts.step });
    try {
      await Promise.all(ready);
    } catch (e) {
      await pool.close();
      throw e;
    }
    pool.idle();
    return pool;
  }

  /** Total threads computing: this one plus the workers. */
  get threads(): number {
    return this.members.length + 1;
  }

  async gradients(micros: Batch[], microSeed: (micro: number) => number): Promise<StepGradients> {
    if (this.failure) throw this.failure;
    const shares = splitStep(micros, microSeed, this.threads);
    // Host sync, deliberate: the workers compute with the adapter the optimizer just updated (adapter-sized).
    const params = this.model.adapterParams();
    const host: HostGrads = {};
    for (const [name, v] of params) host[name] = new Float32Array(v.dataSync());
    const replies = this.members.map((m) => this.request(m, host, shares[m.index]!));
    // This thread's share runs while the workers compute theirs.
    let local: StepGradients;
    try {
      local = localGradients(this.model, shares[0]!, this.step);
    } catch (e) {
      await Promise.allSettled(replies);
      throw e;
    }
    let remote: Array<{ grads: HostGrads; loss: number }>;
    try {
      remote = await Promise.all(replies);
    } catch (e) {
      tf.dispose([...Object.values(local.grads), local.loss]);
      throw e;
    }
    const shapes = new Map([...params].map(([name, v]) => [name, v.shape]));
    const grads = reduceInto(local.grads, remote.map((r) => r.grads), shapes);
    const remoteLoss = remote.reduce((s, r) => s + r.loss, 0);
    const loss = tf.add(local.loss, remoteLoss) as tf.Scalar;
    local.loss.dispose();
    return { grads, loss };
  }

  /** Stops every worker; safe to call twice and after a failure. */
  async close(): Promise<void> {
    this.closing = true;
    await Promise.all(this.members.map((m) => m.worker.terminate()));
  }

  private request(m: Member, params: HostGrads, shares: Share[]): Promise<{ grads: HostGrads; loss: number }> {
    const id = this.nextId++;
    const promise = new Promise<{ grads: HostGrads; loss: number }>((resolve, reject) => m.pending.set(id, { resolve, reject }));
    // Copies of the row ranges: a subarray would carry its whole micro-batch across.
    const own = shares.map((s) => ({ ...s, ids: s.ids.slice(), labels: s.labels.slice() }));
    m.worker.ref(); // keep the process alive while a worker owes a reply
    this.post(m, { type: 'step', id, params, shares: own });
    return promise.finally(() => this.idle());
  }

  /** Resolves when `m` is ready; wires its replies, errors and exit to the pending requests. */
  private listen(m: Member): Promise<void> {
    const ready = new Promise<void>((resolve, reject) => (m.ready = { resolve, reject }));
    m.worker.on('message', (msg: FromWorker) => {
      if (msg.type === 'ready') return m.ready?.resolve();
      if (msg.type === 'grads') {
        const p = m.pending.get(msg.id);
        m.pending.delete(msg.id);
        return p?.resolve(msg);
      }
      this.fail(m, fromWire(msg.error, m.index));
    });
    m.worker.on('error', (e) => this.fail(m, new Error(`training worker ${m.index} crashed: ${e.message}`, { cause: e })));
    m.worker.on('exit', (code) => {
      if (!this.closing) this.fail(m, new Error(`training worker ${m.index} stopped unexpectedly (exit code ${code})`));
    });
    return ready;
  }

  /** The first failure wins: it rejects everything pending on every worker, and later steps. */
  private fail(m: Member, e: Error): void {
    this.failure ??= e;
    for (const member of [m, ...this.members]) {
      member.ready?.reject(this.failure);
      for (const p of member.pending.values()) p.reject(this.failure);
      member.pending.clear();
    }
  }

  /** Idle workers do not keep the process alive: a pool nobody closed cannot hang the exit. */
  private idle(): void {
    for (const m of this.members) if (m.pending.size === 0) m.worker.unref();
  }

  private post(m: Member, msg: ToWorker): void {
    m.worker.postMessage(msg);
  }
}

/** A worker's error as the main thread throws it: FtcErrors keep their code and hint (user mistakes stay data). */
function fromWire(e: WireError, index: number): Error {
  if (e.code) return new FtcError(e.code, e.message, e.where, e.hint);
  const err = new Error(`training worker ${index} failed: ${e.message}`);
  if (e.stack) err.stack = `${err.message}\n--- in the worker ---\n${e.stack}`;
  return err;
}
