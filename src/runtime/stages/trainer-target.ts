import { join, resolve } from 'node:path';
import { FtcError } from '../../errors.js';
import { loadLlamaConfig } from '../../model-spec/config.js';
import type { TrainingShape } from '../../model-spec/memory.js';
import { fullTrainableCount, trainedWeightNames } from '../../model-spec/train-modules.js';
import type { FullSettings } from '../model/api.js';
import { loadCausalLM, loraMemoryShape, type LlamaCausalLM } from '../model/causal-lm.js';
import { saveAdapter, type AdapterConfig } from '../model/peft.js';
import type { StageContext } from '../stage.js';
import { fullModelFiles, writeFullModel } from '../train/full-model.js';
import { peftAdapterFiles, type AdapterFiles } from '../train/checkpoint.js';
import { adapterHost } from '../train/loop.js';
import type { ModelSource } from '../train/parallel/protocol.js';
import { readLoraArtifact, readModelManifest } from './lora.js';
import type { ModelManifest } from './model.js';

/**
 * What a trainer trains, from its `model` input: a lora stage (a LoRA adapter, saved in PEFT format) or a
 * model stage (full fine-tuning: whole weights, saved as a Hugging Face model directory). The trainer stage
 * runs the same loop for both; only what is built, checkpointed and written differs, and that is here.
 */
export interface TrainingTarget {
  /** The base model's manifest (its `path` relative to the pipeline's directory). */
  model: ModelManifest;
  modelDir: string;
  /** What the output holds, for log lines and the report: 'adapter' | 'model'. */
  product: 'adapter' | 'model';
  trainableParameters: number;
  /** The target's settings under the pipeline's own key names, for the report. */
  reportKeys: Record<string, unknown>;
  /** What the memory plan needs to know of the trained parameters. */
  memoryShape: Pick<TrainingShape, 'r' | 'targetModules' | 'dropout' | 'fullParams' | 'bias' | 'useDora' | 'modulesToSave' | 'quantization' | 'doubleQuant'>;
  /** Every data-parallel worker builds the same model from this, placed as the main thread's. */
  workerSource(placement: LoadPlacement): ModelSource;
  checkpointFiles: AdapterFiles;
  /** QLoRA's compute_dtype as the lora stage asked it (the 4-bit products run in fp32 whatever it says). */
  computeDtype?: string;
  load(placement: LoadPlacement): LlamaCausalLM;
  /** Writes the trained result into the stage's artifact directory. */
  save(outDir: string, model: LlamaCausalLM): void;
}

/** The memory plan's decision the build follows (src/model-spec/memory.ts placement): 4-bit linears streamed from the host. */
export interface LoadPlacement {
  streamQuantized: boolean;
}

interface TargetParams {
  model: string;
  train_modules?: string[];
}

export function trainingTarget(ctx: StageContext, p: TargetParams): TrainingTarget {
  const input = ctx.inputs[p.model];
  if (input?.kind === 'model') return fullTarget(ctx, p);
  if (!input || input.kind !== 'lora') {
    throw new FtcError('E_TRAINER_NO_ADAPTER', `trainer ${ctx.stage.name}: model = ${p.model} is a ${input?.kind ?? 'missing'} stage, which has nothing to train`,
      { file: ctx.pipeline.file }, `point the trainer's model at a lora stage (LoRA) or a model stage (full fine-tuning)`);
  }
  if (p.train_modules) {
    throw new FtcError('E_TRAIN_MODULES', `trainer ${ctx.stage.name}: train_modules applies to full fine-tuning, but model = ${p.model} is a lora stage`,
      { file: ctx.pipeline.file }, 'remove train_modules (the lora stage chooses what trains), or point model at the model stage');
  }
  const lora = readLoraArtifact(input);
  const modelDir = resolve(ctx.pipeline.dir, lora.model.path);
  // QLoRA: the lora stage's cached 4-bit linears, read by the trainer and every worker instead of quantizing again.
  const quantizedBase = lora.quantized_base ? join(input.dir, lora.quantized_base) : undefined;
  // Absolute, as PEFT records it: AutoPeftModelForCausalLM.from_pretrained(adapter) then finds the base from any directory.
  const adapterConfig: AdapterConfig = { ...lora.settings, baseModel: modelDir, ...(lora.compute_dtype ? { computeDtype: lora.compute_dtype } : {}) };
  return {
    model: lora.model,
    modelDir,
    product: 'adapter',
    trainableParameters: lora.trainable_parameters,
    reportKeys: pipelineKeys(lora.settings),
    memoryShape: loraMemoryShape(lora.settings),
    workerSource: ({ streamQuantized }) => ({ dir: modelDir, lora: lora.settings, quantizedBase, streamQuantized }),
    checkpointFiles: peftAdapterFiles(adapterConfig),
    ...(lora.compute_dtype ? { computeDtype: lora.compute_dtype } : {}),
    load: ({ streamQuantized }) => loadCausalLM(modelDir, { lora: lora.settings, quantizedBase, streamQuantized }),
    save: (outDir, model) => saveAdapter(outDir, adapterHost(model), adapterConfig),
  };
}

function fullTarget(ctx: StageContext, p: TargetParams): TrainingTarget {
  const manifest = readModelManifest(ctx.inputs[p.model], ctx.stage.name);
  const modelDir = resolve(ctx.pipeline.dir, manifest.path);
  const config = loadLlamaConfig(modelDir);
  const full: FullSettings = p.train_modules ? { trainModules: [...p.train_modules] } : {};
  const trained = trainedWeightNames(config, full.trainModules);
  if (trained.length === 0) {
    // Only reachable through a stale artifact or the YAML form without check: the schema requires one module.
    throw new FtcError('E_TRAIN_MODULES', `trainer ${ctx.stage.name}: train_modules [${p.train_modules?.join(', ')}] selects no weight of ${manifest.path}`,
      { file: ctx.pipeline.file }, 'name at least one module the model has');
  }
  const count = fullTrainableCount(config, full.trainModules);
  return {
    model: manifest,
    modelDir,
    product: 'model',
    trainableParameters: count,
    reportKeys: { full_fine_tuning: true, train_modules: p.train_modules ?? 'all', trained_tensors: trained.length },
    memoryShape: { r: 0, targetModules: [], dropout: false, fullParams: count },
    workerSource: () => ({ dir: modelDir, full }),
    checkpointFiles: fullModelFiles(),
    load: () => loadCausalLM(modelDir, { full }),
    save: (outDir, model) => writeFullModel(outDir, { modelDir, config, trained: model.exportAdapter() }),
  };
}

/** The lora settings under the lora stage's own key names (targetModules → target_modules). */
function pipelineKeys(settings: object): Record<string, unknown> {
  return Object.fromEntries(Object.entries(settings).map(([k, v]) => [k.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`), v]));
}
