import { createRequire } from 'node:module';
import { availableParallelism, totalmem } from 'node:os';
import { resolve } from 'node:path';
import type { LlamaConfig } from '../model-spec/config.js';
import { estimateMemory, residentWeightDtype, WASM_HEAP_BYTES, workersThatFit, type MemoryEstimate, type MemoryTarget, type TrainingShape } from '../model-spec/memory.js';
import { resolveTargetModules } from '../model-spec/modules.js';
import type { LoraBias } from '../model-spec/params.js';
import { isFourBit, TARGET_QUANTIZATIONS } from '../model-spec/quantization.js';
import type { PipelineIR } from './ir.js';
import { readModelSpec } from './validate/context.js';

/**
 * The memory plan of one trainer stage, from the values of the keys that fix it (defaults filled in):
 * `ftc check` reads them from the file (to point at the key), `ftc plan` from the IR; both call this.
 */
export interface TrainerMemoryKeys {
  /** trainer */
  batch_size: number;
  gradient_checkpointing?: boolean;
  /** the trainer's tokenizer */
  max_length: number;
  /** the trainer's lora stage */
  r: number;
  target_modules: string[] | 'all-linear';
  dropout: number;
  bias: LoraBias;
  use_dora?: boolean;
  modules_to_save?: string[];
  quantization?: string;
  double_quant?: boolean;
  /** the pipeline header */
  workers: number | 'auto';
  backend: string;
}

/** What the plan needs to know of the machine; tests pass their own. */
export interface MemoryHost {
  ramBytes: number;
  cores: number;
  /** Whether an npm package resolves from ftc (the native backends are optional dependencies). */
  installed: (pkg: string) => boolean;
}

const require = createRequire(import.meta.url);
export const thisHost = (): MemoryHost => ({
  ramBytes: totalmem(),
  cores: availableParallelism(),
  installed: (pkg) => {
    try {
      require.resolve(`${pkg}/package.json`);
      return true;
    } catch {
      return false;
    }
  },
});

export type PlannedBackend = 'tensorflow-gpu' | 'tensorflow' | 'wasm' | 'cpu';

/**
 * The backend a run would take: as named, or for `auto` the first installed of tfjs-node-gpu, tfjs-node,
 * wasm (src/runtime/backend.ts's order; a native package that is installed but fails to load falls back
 * further at run time, which the plan cannot see).
 */
export function plannedBackend(setting: string, host: MemoryHost): PlannedBackend {
  if (setting !== 'auto') return setting as PlannedBackend;
  if (host.installed('@tensorflow/tfjs-node-gpu')) return 'tensorflow-gpu';
  if (host.installed('@tensorflow/tfjs-node')) return 'tensorflow';
  return host.installed('@tensorflow/tfjs-backend-wasm') ? 'wasm' : 'cpu';
}

export interface TrainerMemoryPlan {
  backend: PlannedBackend;
  shape: TrainingShape;
  target: MemoryTarget;
  estimate: MemoryEstimate;
  fits: boolean;
}

/** Undefined when the keys do not describe a trainable adapter (target_modules the model lacks: reported elsewhere). */
export function planTrainerMemory(config: LlamaConfig, keys: TrainerMemoryKeys, host: MemoryHost): TrainerMemoryPlan | undefined {
  let targets: string[];
  try {
    targets = resolveTargetModules(keys.target_modules, config.architecture);
  } catch {
    return undefined;
  }
  const backend = plannedBackend(keys.backend, host);
  // The GPU's memory is not modelled: tfjs-node-gpu is planned against RAM, as tfjs-node.
  const target: MemoryTarget = { heapBytesPerWorker: backend === 'wasm' ? WASM_HEAP_BYTES : undefined, residentDtype: residentWeightDtype(config.storedDtype, backend), ramBytes: host.ramBytes };
  const base: TrainingShape = {
    batchSize: keys.batch_size, maxLength: keys.max_length, r: keys.r, targetModules: targets, dropout: keys.dropout > 0,
    gradientCheckpointing: keys.gradient_checkpointing === true, workers: 1, bias: keys.bias, useDora: keys.use_dora,
    modulesToSave: keys.modules_to_save, quantization: isFourBit(keys.quantization) ? keys.quantization : 'none', doubleQuant: keys.double_quant,
  };
  const shape = { ...base, workers: workersOf(config, base, target, keys.workers, backend, host) };
  return withEstimate(config, backend, shape, target);
}

/**
 * The threads a run would train on (pool.ts resolveWorkers): a number as given; `auto` every core on wasm
 * and cpu, 1 on the native backends, never more than fit; never more than a micro-batch has rows.
 */
function workersOf(config: LlamaConfig, shape: TrainingShape, target: MemoryTarget, setting: number | 'auto', backend: PlannedBackend, host: MemoryHost): number {
  const cores = backend === 'wasm' || backend === 'cpu' ? host.cores : 1;
  const wanted = setting === 'auto' ? workersThatFit(config, shape, target, cores) : setting;
  return Math.max(1, Math.min(Math.floor(wanted), shape.batchSize));
}

function withEstimate(config: LlamaConfig, backend: PlannedBackend, shape: TrainingShape, target: MemoryTarget): TrainerMemoryPlan {
  const estimate = estimateMemory(config, shape, target);
  return { backend, shape, target, estimate, fits: estimate.fitsHeap && estimate.fitsRam };
}

/** One change to the pipeline that makes it fit, found by re-running the estimate with it. */
export interface MemoryAlternative {
  /** The key as written in the pipeline, with its new value: `max_length = 640`. */
  change: string;
  estimate: MemoryEstimate;
  /** Set when the change is one `ftc run` cannot train (nf4 today): which command can. */
  note?: string;
}

/**
 * What would fit, each alternative alone: the longest max_length (a multiple of 64, or exact below 64),
 * batch_size = 1, gradient_checkpointing = true, workers = 1, quantization = nf4. When none alone does,
 * all but max_length together, and with them the longest max_length that fits. Empty when nothing does.
 */
export function memoryAlternatives(config: LlamaConfig, plan: TrainerMemoryPlan): MemoryAlternative[] {
  const s = plan.shape;
  const nf4Note = TARGET_QUANTIZATIONS.run.includes('nf4') ? undefined : 'trained by `ftc compile --target accelerate`; `ftc run` has no 4-bit base';
  const changes: Array<{ change: string; apply: (t: TrainingShape) => TrainingShape; note?: string }> = [
    ...(s.batchSize > 1 ? [{ change: 'batch_size = 1', apply: (t: TrainingShape) => ({ ...t, batchSize: 1, workers: 1 }) }] : []),
    ...(!s.gradientCheckpointing ? [{ change: 'gradient_checkpointing = true', apply: (t: TrainingShape) => ({ ...t, gradientCheckpointing: true }) }] : []),
    ...(s.workers > 1 ? [{ change: 'workers = 1', apply: (t: TrainingShape) => ({ ...t, workers: 1 }) }] : []),
    ...(!isFourBit(s.quantization) ? [{ change: 'quantization = nf4', apply: (t: TrainingShape) => ({ ...t, quantization: 'nf4' as const }), note: nf4Note }] : []),
  ];
  const single = [
    longestFittingLength(config, plan, s, ''),
    ...changes.map((c) => fitting(config, plan, c.change, c.apply(s), c.note)),
  ].filter((a): a is MemoryAlternative => a !== undefined);
  if (single.length > 0 || changes.length === 0) return single;
  const together = changes.reduce((t, c) => c.apply(t), s);
  const names = changes.map((c) => c.change).join(', ');
  const note = changes.find((c) => c.note)?.note;
  const all = fitting(config, plan, `${names} together`, together, note) ?? longestFittingLength(config, plan, together, `${names} and `, note);
  return all ? [all] : [];
}

function fitting(config: LlamaConfig, plan: TrainerMemoryPlan, change: string, shape: TrainingShape, note?: string): MemoryAlternative | undefined {
  const p = withEstimate(config, plan.backend, shape, plan.target);
  return p.fits ? { change, estimate: p.estimate, ...(note ? { note } : {}) } : undefined;
}

/** The longest max_length below the current one that fits, scanned downwards (the estimate is not monotone in T: attention switches scheme). */
function longestFittingLength(config: LlamaConfig, plan: TrainerMemoryPlan, shape: TrainingShape, prefix: string, note?: string): MemoryAlternative | undefined {
  const t = shape.maxLength;
  const step = t > 64 ? 64 : 1;
  for (let len = step === 64 ? Math.floor((t - 1) / 64) * 64 : t - 1; len >= 2; len -= step) {
    const a = fitting(config, plan, `${prefix}max_length = ${len}`, { ...shape, maxLength: len }, note);
    if (a) return a;
  }
  return undefined;
}

/** Whether even the least a run can train with (one row of 2 tokens, checkpointed, one worker) is past the limit. */
export function weightsAloneTooLarge(config: LlamaConfig, plan: TrainerMemoryPlan): boolean {
  return !withEstimate(config, plan.backend, { ...plan.shape, batchSize: 1, maxLength: 2, gradientCheckpointing: true, workers: 1 }, plan.target).fits;
}

const mib = (b: number): string => `${Math.round(b / 2 ** 20)} MiB`;

/** Where the estimate is past the limit, in words: the heap per worker, the machine's RAM, or both. */
export function overLimit(plan: TrainerMemoryPlan): string {
  const e = plan.estimate;
  const parts: string[] = [];
  if (!e.fitsHeap) parts.push(`one worker needs ~${mib(e.perWorker)} of the wasm heap's ${mib(plan.target.heapBytesPerWorker!)} (weights ${mib(e.weights)} in ${plan.target.residentDtype}${isFourBit(plan.shape.quantization) ? ` and ${plan.shape.quantization}` : ''}, adapter and optimizer ${mib(e.adapter + e.optimizer)}, activations ${mib(e.activations)}, scratch ${mib(e.scratch)})`);
  if (!e.fitsRam) parts.push(`the process needs ~${mib(e.total)} of this machine's ${mib(plan.target.ramBytes)} RAM${plan.shape.workers > 1 ? ` with ${plan.shape.workers} workers` : ''}`);
  return parts.join('; ');
}

/** An alternative in words: `max_length = 640 (heap 3900 MiB)`. */
export function describeAlternative(a: MemoryAlternative, plan: TrainerMemoryPlan): string {
  const figure = plan.target.heapBytesPerWorker !== undefined ? `~${mib(a.estimate.perWorker)} per worker` : `~${mib(a.estimate.total)} RAM`;
  return `${a.change} (${figure}${a.note ? `; ${a.note}` : ''})`;
}

/** One trainer's plan for `ftc plan`, or why there is none (the model's config.json unreadable, no lora stage). */
export type StageMemory = { stage: string; plan: TrainerMemoryPlan } | { stage: string; none: string };

/** The memory plan of every trainer in a compiled pipeline: the IR's params, defaults filled in; config.json read as check reads it. */
export function trainerMemoryPlans(ir: PipelineIR, host: MemoryHost): StageMemory[] {
  const byName = new Map(ir.stages.map((s) => [s.name, s]));
  return ir.stages.filter((s) => s.kind === 'trainer').map((trainer): StageMemory => {
    const lora = byName.get(trainer.params.model as string);
    const model = lora?.kind === 'lora' ? byName.get(lora.params.model as string) : undefined;
    const tok = byName.get(trainer.params.data as string);
    if (!lora || lora.kind !== 'lora' || model?.kind !== 'model' || tok?.kind !== 'tokenizer') return { stage: trainer.name, none: 'its model is not a lora stage on a model stage' };
    const read = readModelSpec(resolve(ir.dir, model.params.path as string));
    if ('error' in read) return { stage: trainer.name, none: `${read.error.message} (${read.file})` };
    const l = lora.params;
    const keys = {
      batch_size: trainer.params.batch_size, gradient_checkpointing: trainer.params.gradient_checkpointing, max_length: tok.params.max_length,
      r: l.r, target_modules: l.target_modules, dropout: l.dropout, bias: l.bias, use_dora: l.use_dora, modules_to_save: l.modules_to_save,
      quantization: l.quantization, double_quant: l.double_quant, workers: ir.settings.workers, backend: ir.settings.backend,
    } as TrainerMemoryKeys;
    const plan = planTrainerMemory(read.config, keys, host);
    return plan ? { stage: trainer.name, plan } : { stage: trainer.name, none: 'target_modules are not modules of the model' };
  });
}
