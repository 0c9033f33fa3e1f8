import { readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { FtcError } from '../../errors.js';
import type { LoraSettings } from '../model/api.js';
import { loadLlamaConfig } from '../../model-spec/config.js';
import { resolveTargetModules } from '../../model-spec/modules.js';
import { loraParameterCount, rankError, rankTooLarge } from '../../model-spec/params.js';
import { isFourBit, TARGET_QUANTIZATIONS, type FourBitType } from '../../model-spec/quantization.js';
import type { Artifact, StageContext, StageImpl, StageSummary } from '../stage.js';
import { formatCount, MODEL_MANIFEST, type ModelManifest } from './model.js';
import { QUANTIZED_BASE_FILE, writeQuantizedBase } from '../quant/base-4bit.js';

/** The lora stage's artifact: the resolved settings and the model they apply to. */
export const LORA_SETTINGS = 'lora.json';

export interface LoraArtifact {
  /** The base model's manifest (its `path` is relative to the pipeline's directory). */
  model: ModelManifest;
  settings: LoraSettings;
  trainable_parameters: number;
  /** QLoRA: the quantized linears, a file of this artifact (base-4bit.ts), and the compute dtype the pipeline asked for. */
  quantized_base?: string;
  compute_dtype?: 'fp32' | 'fp16' | 'bf16';
}

interface LoraParams {
  model: string;
  r: number;
  alpha: number;
  target_modules: string[] | 'all-linear';
  dropout: number;
  bias: 'none' | 'all' | 'lora_only';
  use_rslora: boolean;
  use_dora?: boolean;
  modules_to_save?: string[];
  seed?: number;
  quantization?: 'none' | FourBitType;
  double_quant?: boolean;
  compute_dtype?: 'fp32' | 'fp16' | 'bf16';
}

/**
 * Resolves the LoRA settings against the model: `all-linear` becomes every linear layer of a block
 * (PEFT leaves lm_head out), each target must be a linear layer the model has, and the trainable
 * parameter count is reported. Nothing is trained here; the trainer builds the adapter from this.
 * With quantization = nf4 the base's linears are quantized here, once, into the artifact: the cache key
 * (the model's content, these settings) then covers the 4-bit base too.
 */
export const loraStage: StageImpl = {
  kind: 'lora',
  version: 1,
  async run(ctx: StageContext): Promise<StageSummary> {
    const p = ctx.stage.params as unknown as LoraParams;
    if (p.quantization !== undefined && !TARGET_QUANTIZATIONS.run.includes(p.quantization)) {
      // Training in full precision instead would silently be a different (and much larger) run than asked.
      throw new FtcError('E_LORA_QUANTIZATION', `lora '${ctx.stage.name}': quantization = ${p.quantization} is not one the embedded runtime trains (${TARGET_QUANTIZATIONS.run.join(', ')})`,
        { file: ctx.pipeline.file },
        'compile the pipeline for transformers + bitsandbytes with `ftc compile FILE --target accelerate`, or remove quantization to train a full-precision base');
    }
    const model = readModelManifest(ctx.inputs[p.model], ctx.stage.name);
    const config = loadLlamaConfig(resolve(ctx.pipeline.dir, model.path));
    const targets = resolveTargetModules(p.target_modules, config.architecture);
    const tooLarge = rankTooLarge(config, targets, p.r);
    if (tooLarge.length > 0) throw rankError(p.r, tooLarge, ctx.pipeline.file);
    const trainable = loraParameterCount(config, targets, p.r, p.bias, { useDora: p.use_dora, modulesToSave: p.modules_to_save });
    const settings: LoraSettings = {
      r: p.r,
      alpha: p.alpha,
      targetModules: targets,
      dropout: p.dropout,
      bias: p.bias,
      useRslora: p.use_rslora,
      ...(p.use_dora ? { useDora: true } : {}),
      ...(p.modules_to_save ? { modulesToSave: [...p.modules_to_save] } : {}),
      ...(isFourBit(p.quantization) ? { quantization: { type: p.quantization, doubleQuant: p.double_quant ?? false } } : {}),
      seed: p.seed ?? ctx.pipeline.seed,
    };
    const artifact: LoraArtifact = { model, settings, trainable_parameters: trainable };
    if (settings.quantization) {
      const started = performance.now();
      const count = writeQuantizedBase(resolve(ctx.pipeline.dir, model.path), config, settings.quantization, join(ctx.outDir, QUANTIZED_BASE_FILE));
      Object.assign(artifact, { quantized_base: QUANTIZED_BASE_FILE, ...(p.compute_dtype ? { compute_dtype: p.compute_dtype } : {}) });
      ctx.log.info(`quantized ${count} linear weights to ${settings.quantization.type}${settings.quantization.doubleQuant ? ' (double quantization)' : ''} in ${((performance.now() - started) / 1000).toFixed(1)}s; embeddings, norms and lm_head stay as stored`);
    }
    writeFileSync(join(ctx.outDir, LORA_SETTINGS), JSON.stringify(artifact, null, 2) + '\n');
    const pct = model.parameters > 0 ? ` (${((100 * trainable) / model.parameters).toFixed(3)}% of ${formatCount(model.parameters)})` : '';
    const whole = p.modules_to_save ? ` + ${p.modules_to_save.join(', ')} trained whole` : '';
    ctx.log.info(`${p.use_dora ? 'DoRA' : 'LoRA'} r=${p.r} alpha=${p.alpha} on ${targets.join(', ')}${whole}: ${formatCount(trainable)} trainable parameters${pct}`);
    return { trainable_parameters: trainable, modules: targets.join(',') };
  },
};

export function readModelManifest(input: Artifact | undefined, stage: string): ModelManifest {
  if (!input) throw new Error(`stage ${stage}: its model input was not provided by the executor`);
  return JSON.parse(readFileSync(join(input.dir, MODEL_MANIFEST), 'utf8')) as ModelManifest;
}

export function readLoraArtifact(input: Pick<Artifact, 'dir'>): LoraArtifact {
  return JSON.parse(readFileSync(join(input.dir, LORA_SETTINGS), 'utf8')) as LoraArtifact;
}
