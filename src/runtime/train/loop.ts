import * as tf from '../tf.js';
import { FtcError } from '../../errors.js';
import type { CausalLM, WeightMap } from '../model/api.js';
import type { Progress, StageLogger } from '../stage.js';
import { BatchPlan, mixSeed, type ExampleSource } from './batches.js';
import type { CheckpointDir, TrainerSnapshot } from './checkpoint.js';
import { evalLoss, evalSubset, throttledEvalProgress } from './evaluate.js';
import { MetricsLog } from './metrics.js';
import { localEngine, type GradientEngine } from './step.js';
import { AdamW } from './optimizer.js';
import { makeSchedule, type ScheduleKind } from './schedule.js';

export { evalLoss } from './evaluate.js';

/** The trainer stage's parameters, in the loop's own words (schema names in comments). */
export interface TrainConfig {
  batchSize: number; // batch_size
  gradAccum: number; // grad_accum
  epochs: number; // epochs (may be fractional)
  maxSteps?: number; // max_steps: overrides epochs
  lr: number;
  weightDecay: number;
  beta1: number;
  beta2: number;
  eps: number; // adam_epsilon
  scheduler: ScheduleKind;
  warmupSteps: number;
  warmupRatio: number;
  maxGradNorm: number; // 0: no clipping
  logEvery: number;
  evalEvery: number; // 0: at epoch ends only
  evalOnStart?: boolean; // eval_on_start: also evaluate before the first update (default false, as transformers)
  evalMaxExamples?: number; // eval_max_examples: a seeded sample of the eval split of at most this size
  saveEvery: number; // 0: no checkpoints
  patience: number; // early_stopping_patience, 0: never
  seed: number;
}

export interface TrainInputs {
  model: CausalLM & AdapterIO;
  train: ExampleSource;
  eval?: ExampleSource;
  padId: number;
  config: TrainConfig;
  log?: StageLogger;
  metrics?: MetricsLog;
  checkpoints?: CheckpointDir;
  /** Continue from the newest complete checkpoint, if there is one. */
  resume?: boolean;
  /** Identifies the run's settings (the trainer stage's cache key); a checkpoint from other settings is not resumed. */
  runKey?: string;
  /**
   * Who computes each step's adapter gradients; default: this thread. A data-parallel pool
   * (parallel/pool.ts) keeps `model` in step with its workers; eval and checkpoints stay here.
   */
  gradients?: GradientEngine;
  /** Return right after this step (and its checkpoint), as if the process had been killed. For tests. */
  haltAfterStep?: number;
  /** During an evaluation, a progress line at most this often (seconds); default EVAL_PROGRESS_SECONDS. */
  evalProgressSeconds?: number;
}

/** How often a running evaluation says how far it is, also when no progress bar is drawn. */
export const EVAL_PROGRESS_SECONDS = 10;

export type StopReason = 'completed' | 'early-stopping' | 'halted';

export interface TrainResult {
  steps: number;
  totalSteps: number;
  stopReason: StopReason;
  resumedFrom?: number;
  metrics: MetricsLog;
  lastEvalLoss?: number;
  bestEvalLoss?: number;
  /**
   * Wall seconds of this call, split into disjoint parts that sum to `total`: optimizer steps
   * (with their logging), evaluations and checkpoint writes.
   */
  seconds: { total: number; train: number; eval: number; checkpoint: number };
}

/**
 * The training loop, one optimizer step per iteration:
 * lr → forward/backward → clip → step → log → eval/checkpoint → stop.
 * (Eval and checkpoint come after the step so that a checkpoint at step N holds exactly the state
 * after N updates, the state `--resume` continues from.)
 *
 * Host syncs happen only at log steps, evaluations and checkpoints; between them the loss is
 * summed on the device. A NaN or infinite loss is detected at the next sync, before anything is
 * saved, so the last checkpoint on disk is always a good one.
 */
export async function train(inp: TrainInputs): Promise<TrainResult> {
  const t0 = performance.now(); // setting up and restoring a checkpoint count as training time
  const { model, config: cfg } = inp;
  const metrics = inp.metrics ?? new MetricsLog();
  const params = model.adapterParams();
  const engine = inp.gradients ?? localEngine(model);
  const plan = new BatchPlan(inp.train, { batchSize: cfg.batchSize, gradAccum: cfg.gradAccum, seed: cfg.seed, padId: inp.padId });
  const totalSteps = cfg.maxSteps ?? Math.max(1, Math.ceil(cfg.epochs * plan.stepsPerEpoch));
  const lrAt = makeSchedule({ kind: cfg.scheduler, lr: cfg.lr, totalSteps, warmupSteps: cfg.warmupSteps, warmupRatio: cfg.warmupRatio });
  const optimizer = new AdamW(params, { beta1: cfg.beta1, beta2: cfg.beta2, eps: cfg.eps, weightDecay: cfg.weightDecay });
  const evalSet = inp.eval && evalSubset(inp.eval, cfg.evalMaxExamples, cfg.seed);
  const hasEval = evalSet !== undefined && evalSet.count > 0;
  if (hasEval && evalSet.count < inp.eval!.count) inp.log?.info(`evaluating on ${evalSet.count} of the ${inp.eval!.count} eval examples (eval_max_examples)`);
  if (cfg.patience > 0 && !hasEval) inp.log?.warn('early_stopping_patience is set but there is no eval split; early stopping is off');

  let step = 0;
  let early = { best: null as number | null, bad: 0 };
  let pending = { lossSum: tf.scalar(0) as tf.Scalar, steps: 0, tokens: 0 };
  let lastGradNorm: tf.Scalar = tf.scalar(0);
  let resumedFrom: number | undefined;
  const seconds = { total: 0, train: 0, eval: 0, checkpoint: 0 };

  // Resume: parameters, optimizer moments, data position, history and pending sums, as saved.
  const snapshot = inp.resume ? await inp.checkpoints?.latest() : undefined;
  if (snapshot) {
    restore(snapshot);
    resumedFrom = step;
    inp.log?.info(`resuming from checkpoint step ${step}`);
  } else {
    if (inp.resume) inp.log?.info('no complete checkpoint to resume from; starting at step 0');
    metrics.reset([]);
  }

  const evaluate = (): { loss: number; ppl: number } => {
    const started = performance.now();
    const progress = inp.log && throttledEvalProgress((l) => inp.log!.info(l), `step ${step}: evaluating`, inp.evalProgressSeconds ?? EVAL_PROGRESS_SECONDS);
    const loss = evalLoss(model, evalSet!, cfg.batchSize, inp.padId, progress);
    const took = (performance.now() - started) / 1000;
    seconds.eval += took;
    if (!Number.isFinite(loss)) throw nonFinite('eval loss', loss, step);
    const record = { step, epoch: round(plan.epochProgress), eval_loss: loss, eval_ppl: Math.exp(loss), eval_examples: evalSet!.count, eval_seconds: round(took) };
    metrics.add(record);
    inp.log?.info(`step ${step}: eval_loss ${loss.toFixed(4)} eval_ppl ${record.eval_ppl.toFixed(2)} (${evalSet!.count} examples, ${took.toFixed(1)} s)`);
    return { loss, ppl: record.eval_ppl };
  };
  let lastEval: number | undefined = metrics.evalLosses().at(-1);
  let stopReason: StopReason = 'completed';
  // eval_on_start: a baseline before the first update, so the curve shows where training started.
  if (hasEval && cfg.evalOnStart && !snapshot) lastEval = trackEarlyStop(evaluate().loss);

  // After a resume the bar counts only this process's steps, so its ETA rests on this process's speed.
  const startStep = step;
  const bar: Progress | undefined = inp.log?.progress(startStep > 0 ? `train (resumed at step ${startStep} of ${totalSteps})` : 'train', totalSteps - startStep);
  let fields: Record<string, string | number> = {};
  let windowStart = performance.now();

  try {
    while (step < totalSteps) {
      // ── lr ──
      const lr = lrAt(step);

      // ── forward/backward ── token-weighted over the micro-batches (and workers), so the sum matches one big batch.
      const { micros, epochEnd } = plan.nextStep();
      const computed = await engine.gradients(micros, (i) => mixSeed(cfg.seed, step, i));
      let grads = computed.grads;
      const stepLoss = computed.loss;
      pending.tokens += micros.reduce((n, b) => n + b.inputTokens, 0);

      // ── clip ── by global norm, as torch.nn.utils.clip_grad_norm_ (the norm before clipping is logged).
      const gradNorm = globalNorm(Object.values(grads));
      if (cfg.maxGradNorm > 0) grads = clipByNorm(grads, gradNorm, cfg.maxGradNorm);

      // ── step ──
      optimizer.step(grads, lr);
      disposeAll(grads);
      step += 1;
      pending.lossSum = replaced(pending.lossSum, tf.add(pending.lossSum, stepLoss) as tf.Scalar);
      pending.steps += 1;
      stepLoss.dispose();
      lastGradNorm.dispose();
      lastGradNorm = gradNorm;

      // ── log ── the one regular host sync: every log_every steps (and at the last step).
      const evalNow = hasEval && (epochEnd || (cfg.evalEvery > 0 && step % cfg.evalEvery === 0) || step === totalSteps);
      const saveNow = inp.checkpoints !== undefined && cfg.saveEvery > 0 && step % cfg.saveEvery === 0;
      if (step % cfg.logEvery === 0 || step === totalSteps || saveNow) {
        const loss = pending.lossSum.dataSync()[0]! / pending.steps; // host sync
        const norm = lastGradNorm.dataSync()[0]!; // host sync
        if (!Number.isFinite(loss)) throw nonFinite('training loss', loss, step);
        if (step % cfg.logEvery === 0 || step === totalSteps) {
          const now = performance.now();
          const tokensPerS = pending.tokens / Math.max(1e-9, (now - windowStart) / 1000);
          metrics.add({ step, epoch: round(plan.epochProgress), loss, lr, grad_norm: norm, tokens_per_s: round(tokensPerS) });
          fields = { loss: loss.toFixed(4), lr: lr.toExponential(2), 'tok/s': Math.round(tokensPerS) };
          // Like transformers' logging_steps: one line per log step, also where no bar is drawn (CI, a pipe).
          inp.log?.info(`step ${step}: loss ${fields.loss} lr ${fields.lr} grad_norm ${norm.toFixed(4)} tok/s ${fields['tok/s']}`);
          pending.lossSum = replaced(pending.lossSum, tf.scalar(0));
          pending.steps = 0;
          pending.tokens = 0;
          windowStart = now;
        }
      }
      bar?.update(step - startStep, fields);

      // ── eval/checkpoint ──
      const paused = performance.now();
      if (evalNow) lastEval = trackEarlyStop(evaluate().loss);
      if (saveNow) await save();
      // tokens/s counts the steps' own time: the window skips the evaluation and checkpoint.
      windowStart += performance.now() - paused;

      // ── stop ──
      if (cfg.patience > 0 && early.bad >= cfg.patience) {
        stopReason = 'early-stopping';
        inp.log?.info(`early stopping at step ${step}: eval loss has not improved for ${early.bad} evaluations`);
        break;
      }
      if (inp.haltAfterStep !== undefined && step >= inp.haltAfterStep) {
        stopReason = 'halted';
        break;
      }
    }
  } finally {
    // Also on a NaN stop: the bar is closed and the device state freed before the error surfaces.
    bar?.done();
    pending.lossSum.dispose();
    lastGradNorm.dispose();
    optimizer.dispose();
  }
  // Evaluations and checkpoints are disjoint intervals inside [t0, now], so training time is never negative.
  seconds.total = (performance.now() - t0) / 1000;
  seconds.train = Math.max(0, seconds.total - seconds.eval - seconds.checkpoint);
  return { steps: step, totalSteps, stopReason, resumedFrom, metrics, lastEvalLoss: lastEval, bestEvalLoss: early.best ?? undefined, seconds };

  function trackEarlyStop(loss: number): number {
    if (early.best === null || loss < early.best) early = { best: loss, bad: 0 };
    else early.bad += 1;
    return loss;
  }

  async function save(): Promise<void> {
    const started = performance.now();
    // Host sync, deliberate: parameters, moments and the pending loss sum go to disk.
    const adapter = adapterHost(model);
    const dir = await inp.checkpoints!.save({
      step,
      seed: cfg.seed,
      runKey: inp.runKey,
      data: plan.position,
      optimizer: optimizer.state(),
      adapter,
      history: metrics.records,
      early,
      pending: { lossSum: pending.lossSum.dataSync()[0]!, steps: pending.steps, tokens: pending.tokens },
    });
    inp.log?.info(`checkpoint step ${step} → ${dir}`);
    seconds.checkpoint += (performance.now() - started) / 1000;
  }

  function restore(s: TrainerSnapshot): void {
    if (s.seed !== cfg.seed) {
      throw new FtcError('E_RESUME_MISMATCH', `the checkpoint was trained with seed ${s.seed}, this run uses ${cfg.seed}`, undefined, 'resume with the same settings, or delete the checkpoints directory to start over');
    }
    if (inp.runKey !== undefined && s.runKey !== undefined && s.runKey !== inp.runKey) {
      throw new FtcError('E_RESUME_MISMATCH', 'the newest checkpoint was written by a run with different settings (its stage key differs)', undefined, 'resume with the settings it was started with, or run without --resume to start over');
    }
    setAdapterHost(model, s.adapter);
    optimizer.loadState(s.optimizer);
    plan.position = s.data;
    step = s.step;
    early = { ...s.early };
    metrics.reset(s.history);
    pending.lossSum.dispose();
    pending = { lossSum: tf.scalar(s.pending.lossSum), steps: s.pending.steps, tokens: s.pending.tokens };
  }
}

/**
 * The model's adapter in PEFT orientation (A [r, in], B [out, r]) on the host. A model that stores its
 * matrices transposed for speed offers exportAdapter/importAdapter; otherwise the variables are PEFT-shaped.
 */
interface AdapterIO {
  exportAdapter?(): WeightMap;
  importAdapter?(tensors: WeightMap): void;
}

export function adapterHost(model: CausalLM & AdapterIO): WeightMap {
  if (model.exportAdapter) return model.exportAdapter();
  // Host sync, deliberate: checkpoints and the final adapter.
  return new Map([...model.adapterParams()].map(([name, v]) => [name, { shape: [...v.shape], data: v.dataSync() as Float32Array }]));
}

export function setAdapterHost(model: CausalLM & AdapterIO, tensors: WeightMap): void {
  for (const [name, v] of model.adapterParams()) {
    if (!tensors.has(name)) {
      throw new FtcError('E_RESUME_MISMATCH', `the checkpoint's adapter has no tensor ${name}`, undefined, 'the LoRA settings changed since the checkpoint; run without --resume to start over');
    }
  }
  if (model.importAdapter) return model.importAdapter(tensors);
  for (const [name, v] of model.adapterParams()) {
    const saved = tensors.get(name)!;
    if (saved.shape.join(',') !== v.shape.join(',')) {
      throw new FtcError('E_RESUME_MISMATCH', `the checkpoint's ${name} has shape [${saved.shape}], the model's [${v.shape}]`, undefined, 'the LoRA settings changed since the checkpoint; run without --resume to start over');
    }
    const t = tf.tensor(saved.data, saved.shape, 'float32');
    v.assign(t);
    t.dispose();
  }
}

/** √(Σ‖g‖²) over every gradient, on the device. */
export function globalNorm(grads: tf.Tensor[]): tf.Scalar {
  if (grads.length === 0) return tf.scalar(0);
  return tf.tidy(() => tf.sqrt(tf.addN(grads.map((g) => tf.sum(tf.square(g))))) as tf.Scalar);
}

/** Scales every gradient by min(1, max / (norm + 1e-6)) as torch does; disposes the unclipped ones. */
export function clipByNorm(grads: Record<string, tf.Tensor>, norm: tf.Scalar, maxNorm: number): Record<string, tf.Tensor> {
  const clipped = tf.tidy(() => {
    const scale = tf.minimum(1, tf.div(maxNorm, tf.add(norm, 1e-6)));
    return Object.fromEntries(Object.entries(grads).map(([k, g]) => [k, tf.mul(g, scale)]));
  });
  disposeAll(grads);
  return clipped;
}

function disposeAll(ts: Record<string, tf.Tensor>): void {
  for (const t of Object.values(ts)) t.dispose();
}

/** Disposes `old` and returns `next`: for device accumulators that live across steps. */
function replaced<T extends tf.Tensor>(old: T, next: T): T {
  old.dispose();
  return next;
}

function nonFinite(what: string, value: number, step: number): FtcError {
  return new FtcError(
    'E_TRAIN_NONFINITE',
    `${what} became ${value} at or before step ${step}; training stopped (the last checkpoint on disk was taken before this and is kept)`,
    undefined,
    'lower lr, raise warmup or set max_grad_norm; then rerun with --resume to continue from the last checkpoint',
  );
}

function round(x: number): number {
  return Math.round(x * 1e4) / 1e4;
}
