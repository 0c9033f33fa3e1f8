import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { FtcError } from '../../errors.js';
import { initBackend, type BackendPreference } from '../backend.js';
import type { StageContext, StageImpl, StageSummary } from '../stage.js';
import { readTokenDataset } from '../tokenize/dataset.js';
import { CheckpointDir } from '../train/checkpoint.js';
import { train, type TrainConfig } from '../train/loop.js';
import { MetricsLog } from '../train/metrics.js';
import { uniformLossWarning } from '../train/uniform-loss.js';
import { WorkerPool } from '../train/parallel/pool.js';
import { trainingMemoryTarget, trainingThreads } from '../train/parallel/threads.js';
import { estimateMemory, type TrainingShape } from '../../model-spec/memory.js';
import { loadLlamaConfig } from '../../model-spec/config.js';
import { localEngine, type StepOptions } from '../train/step.js';
import { lossCurveSvg } from '../train/plot.js';
import { reportHtml } from '../train/report.js';
import { heldOutGeneration } from '../train/held-out-answers.js';
import { trainingTarget } from './trainer-target.js';
import { tokenizerModelMismatch } from '../../model-spec/tokenizer.js';
import { outputTarget } from '../materialize.js';
import { claimOutputDir } from '../output-mark.js';

interface TrainerParams {
  model: string;
  data: string;
  batch_size: number;
  epochs: number;
  max_steps?: number;
  lr: number;
  weight_decay: number;
  adam_beta1: number;
  adam_beta2: number;
  adam_epsilon: number;
  scheduler: TrainConfig['scheduler'];
  warmup_steps: number;
  warmup_ratio: number;
  grad_accum: number;
  max_grad_norm: number;
  precision: 'fp32' | 'fp16' | 'bf16';
  log_every: number;
  eval_every: number;
  eval_on_start: boolean;
  gradient_checkpointing?: boolean;
  eval_max_examples?: number;
  eval_generate?: number;
  eval_max_new_tokens?: number;
  save_every: number;
  early_stopping_patience: number;
  output: string;
  seed?: number;
  train_modules?: string[];
}

/**
 * Trains the LoRA adapter (model = a lora stage) or the model's own weights (model = a model stage: full
 * fine-tuning, all of them or `train_modules`) on the tokenizer stage's examples and writes, into the artifact:
 * adapter_config.json + adapter_model.safetensors (PEFT format), or a Hugging Face model directory
 * (config.json, model.safetensors or its shards, the tokenizer files), and metrics.jsonl, loss.svg, report.html.
 * Checkpoints go to `<output>/checkpoints` beside the pipeline, outside the cache, so a killed run
 * can continue with `ftc run --resume`.
 */
export const trainerStage: StageImpl = {
  kind: 'trainer',
  version: 1,
  async run(ctx: StageContext): Promise<StageSummary> {
    const p = ctx.stage.params as unknown as TrainerParams;
    const started = performance.now();
    const warnings: string[] = [];
    const warn = (m: string) => {
      warnings.push(m);
      ctx.log.warn(m);
    };

    // Inputs: what trains (a LoRA adapter, or the model itself) and the token dataset.
    const target = trainingTarget(ctx, p);
    const dataset = readTokenDataset(ctx.inputs[p.data]!.dir);
    const trainSplit = dataset.split('train');
    const evalSplit = dataset.split('eval');
    checkDatasetFitsModel(dataset.meta, target.model, p.data, target.model.path, ctx.pipeline.file);
    if (trainSplit.count === 0) {
      throw new FtcError('E_TRAINER_NO_DATA', `the tokenizer stage ${p.data} produced no training examples`, { file: ctx.pipeline.file },
        'check the data and preprocess stages (and max_length/truncation)');
    }

    // Backend and precision.
    const backend = await initBackend((ctx.options.backend ?? ctx.pipeline.settings.backend ?? 'auto') as BackendPreference);
    // TensorFlow.js has no float16/bfloat16 tensors on any backend it runs in Node: fp32 is what runs.
    const precision = 'fp32';
    if (p.precision !== precision) warn(`precision ${p.precision} is not available on the ${backend.name} backend; trained in fp32 instead`);

    if (target.computeDtype && target.computeDtype !== precision) warn(`compute_dtype ${target.computeDtype} is not available on the ${backend.name} backend; 4-bit weights are dequantized to fp32 instead`);
    // Data-parallel threads: --workers, else the pipeline header's `workers` (auto: every core on wasm/cpu).
    const stepOptions: StepOptions = { gradientCheckpointing: p.gradient_checkpointing === true };
    // The memory plan, before the model loads: `auto` never picks more threads than it fits (each holds a full
    // copy of the model), and under QLoRA it decides where the 4-bit linears live; the build follows it.
    const modelConfig = loadLlamaConfig(target.modelDir);
    const shape: TrainingShape = {
      batchSize: p.batch_size, maxLength: dataset.meta.max_length, ...target.memoryShape,
      gradientCheckpointing: stepOptions.gradientCheckpointing === true, workers: 1,
    };
    const threads = trainingThreads(modelConfig, shape, backend.name, ctx.options.workers ?? (ctx.pipeline.settings.workers as number | 'auto' | undefined));
    const plan = estimateMemory(modelConfig, { ...shape, workers: threads }, trainingMemoryTarget(modelConfig, shape, backend.name));
    const streamQuantized = plan.placement === 'streamed';
    if (streamQuantized) ctx.log.info(`the 4-bit base streams: its linears stay on the host (~${Math.round(plan.hostWeights / 2 ** 20)} MiB) and are staged into the wasm heap one at a time (resident it would need ~${Math.round(plan.residentPerWorker / 2 ** 20)} MiB of heap)`);
    const model = target.load({ streamQuantized });
    const outputDir = outputTarget(p.output, ctx.pipeline.dir);
    // Checkpoints are written into the output before it is complete, so it is claimed first: never a directory ftc did not write.
    claimOutputDir(outputDir, p.output, `stage '${ctx.stage.name}': output`, { pipeline: ctx.pipeline.file, stage: ctx.stage.name, key: ctx.stage.key });
    const checkpoints = new CheckpointDir(join(outputDir, 'checkpoints'), target.checkpointFiles);
    if (!ctx.options.resume && checkpoints.steps().length > 0) {
      warn(`starting over: the checkpoints in ${join(p.output, 'checkpoints')} from an earlier run are replaced (use --resume to continue from them)`);
      rmSync(checkpoints.root, { recursive: true, force: true });
    }
    const metrics = new MetricsLog(join(ctx.outDir, 'metrics.jsonl'));
    const config = trainConfig(p, ctx.pipeline.seed);
    if (stepOptions.gradientCheckpointing) ctx.log.info('gradient checkpointing: each decoder layer is recomputed in the backward pass');
    let pool: WorkerPool | undefined;
    try {
      if (threads > 1) {
        pool = await WorkerPool.start({ threads, backend: backend.name, source: target.workerSource({ streamQuantized }), model, step: stepOptions });
        ctx.log.info(`training on ${threads} threads (data-parallel, ${backend.name} backend each)`);
      }
      // Held-out answers (eval_generate): the base model's now, before any update; the tuned model's after training.
      const heldOut = heldOutGeneration({ dir: ctx.inputs[p.data]!.dir, eosId: dataset.meta.eos_id },
        { count: p.eval_generate, maxNewTokens: p.eval_max_new_tokens }, model, warn);
      const baseStarted = performance.now();
      const baseAnswers = await heldOut?.answers(model);
      const trainStarted = performance.now();
      const result = await train({
        model,
        train: trainSplit,
        eval: evalSplit.count > 0 ? evalSplit : undefined,
        padId: dataset.meta.pad_id ?? dataset.meta.eos_id ?? 0,
        config,
        log: ctx.log,
        metrics,
        checkpoints,
        resume: ctx.options.resume,
        runKey: ctx.stage.key,
        gradients: pool ?? localEngine(model, stepOptions),
      });
      const flat = uniformLossWarning(metrics.trainLosses(), target.model.vocab_size, p.lr);
      if (flat) warn(flat);
      const trainEnded = performance.now();
      // The workers are done; stopping them (which can take seconds) is part of the run the report times.
      await pool?.close();
      const workersStopped = performance.now();
      const tunedAnswers = await heldOut?.answers(model);
      const answered = performance.now();
      if (evalSplit.count === 0) warn('the dataset has no eval split: no eval loss or perplexity was computed (set eval_split in the preprocess stage)');

      // The adapter in PEFT format (or the model in HF layout), plus what the user reads: metrics, plot, report.
      target.save(ctx.outDir, model);
      const answers = heldOut?.write(ctx.outDir, baseAnswers!, tunedAnswers!);
      writeFileSync(join(ctx.outDir, 'loss.svg'), lossCurveSvg(metrics.records, `${ctx.pipeline.name} · ${ctx.stage.name}`));
      const finished = performance.now();
      const seconds = (ms: number) => Math.round(ms) / 1000;
      const ranPrecision = p.precision === precision ? precision : `${precision} (the pipeline asks for ${p.precision}, which TensorFlow.js does not have)`;
      writeFileSync(join(ctx.outDir, 'report.html'), reportHtml({
        pipeline: ctx.pipeline.name,
        stage: ctx.stage.name,
        ran: {
          // The backend's detail describes one tfjs instance; with a pool, each worker runs its own.
          backend: `${backend.name} (${threads > 1 ? 'each worker: ' : ''}${backend.tried.find((t) => t.ok)?.reason ?? ''})`,
          workers: threads > 1 ? `${threads} data-parallel threads` : '1 (this thread)',
          precision: ranPrecision,
        },
        config: { ...p, precision: ranPrecision, seed: config.seed, total_steps: result.totalSteps, resumed_from: result.resumedFrom },
        model: {
          base_model: target.model.path, architecture: target.model.architecture, parameters: target.model.parameters, vocab_size: target.model.vocab_size,
          ...target.reportKeys, trainable_parameters: target.trainableParameters,
        },
        vocabSize: target.model.vocab_size,
        records: metrics.records,
        answers,
        // Disjoint parts of this stage's wall time; `total` is their sum up to rounding (a test holds them to it).
        timings: {
          total: seconds(finished - started),
          'setup (backend, model, workers)': seconds(baseStarted - started),
          ...(heldOut ? { 'generating (base model, before training)': seconds(trainStarted - baseStarted) } : {}),
          training: seconds(trainEnded - trainStarted - 1000 * (result.seconds.eval + result.seconds.checkpoint)),
          evaluation: seconds(result.seconds.eval * 1000),
          checkpoints: seconds(result.seconds.checkpoint * 1000),
          ...(pool ? { 'stopping workers': seconds(workersStopped - trainEnded) } : {}),
          ...(heldOut ? { 'generating (tuned model)': seconds(answered - workersStopped) } : {}),
          [`writing the ${target.product} and plot`]: seconds(finished - answered),
        },
        stopReason: result.stopReason === 'early-stopping' ? `early stopping (patience ${p.early_stopping_patience})` : `completed ${result.steps} steps`,
        warnings,
      }));
      const lastLoss = metrics.trainLosses().at(-1);
      return {
        rows: trainSplit.count,
        steps: result.steps,
        ...(lastLoss !== undefined ? { loss: round(lastLoss) } : {}),
        ...(result.lastEvalLoss !== undefined ? { eval_loss: round(result.lastEvalLoss), eval_ppl: round(Math.exp(result.lastEvalLoss)) } : {}),
        ...(result.stopReason === 'early-stopping' ? { stopped: 'early' } : {}),
      };
    } finally {
      await pool?.close(); // again on an error; terminating a stopped worker is a no-op
      model.dispose();
    }
  },
};

/** The schema's keys in the loop's words; the seed falls back to the pipeline's. */
export function trainConfig(p: TrainerParams, pipelineSeed: number): TrainConfig {
  return {
    batchSize: p.batch_size,
    gradAccum: p.grad_accum,
    epochs: p.epochs,
    maxSteps: p.max_steps,
    lr: p.lr,
    weightDecay: p.weight_decay,
    beta1: p.adam_beta1,
    beta2: p.adam_beta2,
    eps: p.adam_epsilon,
    scheduler: p.scheduler,
    warmupSteps: p.warmup_steps,
    warmupRatio: p.warmup_ratio,
    maxGradNorm: p.max_grad_norm,
    logEvery: p.log_every,
    evalEvery: p.eval_every,
    evalOnStart: p.eval_on_start,
    evalMaxExamples: p.eval_max_examples,
    saveEvery: p.save_every,
    patience: p.early_stopping_patience,
    seed: p.seed ?? pipelineSeed,
  };
}

/** A tokenizer whose ids run past the model's embedding table, or sequences longer than its context, cannot train it. */
function checkDatasetFitsModel(
  meta: { vocab_size: number; max_length: number },
  model: { vocab_size: number; max_position_embeddings: number },
  tokStage: string,
  modelPath: string,
  file: string,
): void {
  const mismatch = tokenizerModelMismatch(meta.vocab_size, { vocabSize: model.vocab_size }, { tokenizer: `of stage ${tokStage}`, model: modelPath, file });
  if (mismatch) throw mismatch;
  if (meta.max_length > model.max_position_embeddings) {
    // E0306: the code `ftc check` reports for this at the tokenizer's max_length.
    throw new FtcError('E0306',
      `the tokenizer stage ${tokStage} allows ${meta.max_length} tokens per example but the model ${modelPath} has max_position_embeddings ${model.max_position_embeddings}`,
      { file }, `set max_length = ${model.max_position_embeddings} or less in the tokenizer stage`);
  }
}

function round(x: number): number {
  return Math.round(x * 1e4) / 1e4;
}
