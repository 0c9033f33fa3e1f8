import type { StageNode } from '../ast.js';
import type { SourceRange } from '../diagnostics.js';
import type { LlamaConfig } from '../../model-spec/config.js';
import { describeAlternative, memoryAlternatives, overLimit, planTrainerMemory, thisHost, weightsAloneTooLarge, type MemoryHost, type TrainerMemoryKeys, type TrainerMemoryPlan } from '../memory-plan.js';
import type { ValidationContext } from './context.js';
import { baseModel, label, setOrDefault } from './checks-model.js';

/** The machine check plans against; tests set their own (`setMemoryHost`). */
let host: MemoryHost | undefined;
export const setMemoryHost = (h: MemoryHost | undefined): void => {
  host = h;
};

/**
 * E_MEMORY_PLAN: the trainer's estimate (src/model-spec/memory.ts, the one `workers = auto` uses at run
 * time) fits the backend's limits, for `ftc run`. When it does not, the error is at the key that drives it
 * and says what would fit, each alternative computed by re-running the estimate.
 */
export function trainerFitsMemory(trainer: StageNode, ctx: ValidationContext): void {
  if (ctx.runTarget !== 'run') return; // the accelerate job runs on torch, whose memory this does not model
  const tok = ctx.target(trainer, 'data');
  const lora = ctx.target(trainer, 'model');
  const model = baseModel(trainer, ctx);
  const config = model && ctx.modelConfig(model);
  if (tok?.kind !== 'tokenizer' || lora?.kind !== 'lora' || !model || !config) return;
  const keys = memoryKeys(trainer, tok, lora, ctx);
  // A max_length past the model's context is E0306's error: one mistake, one diagnostic.
  if (!keys || keys.max_length > config.maxPositionEmbeddings) return;
  const plan = planTrainerMemory(config, keys, host ?? thisHost());
  if (!plan || plan.fits) return;
  const alternatives = memoryAlternatives(config, plan).map((a) => describeAlternative(a, plan));
  const would = alternatives.length > 0 ? `Would fit: ${alternatives.join('; ')}.` : 'Nothing would fit: the weights alone are past the limit.';
  ctx.error('E_MEMORY_PLAN', where(config, plan, trainer, tok, model, ctx),
    `${label(trainer)} does not fit in memory on ${plan.backend} (max_length ${keys.max_length}, batch_size ${keys.batch_size}, ${plan.shape.workers} worker${plan.shape.workers > 1 ? 's' : ''}): ${overLimit(plan)}. ${would} \`ftc plan\` prints the whole estimate.`);
}

/** The values the plan reads, set or default; undefined when one is not of its type (reported by the schema checks). */
function memoryKeys(trainer: StageNode, tok: StageNode, lora: StageNode, ctx: ValidationContext): TrainerMemoryKeys | undefined {
  const header = ctx.ast.stages.find((s) => s.kind === 'pipeline');
  const get = (stage: StageNode | undefined, key: string, fallback?: unknown): unknown => (stage ? setOrDefault(stage, key, ctx).value : fallback) ?? fallback;
  const keys = {
    batch_size: get(trainer, 'batch_size'), gradient_checkpointing: get(trainer, 'gradient_checkpointing', false), max_length: get(tok, 'max_length'),
    r: get(lora, 'r'), target_modules: get(lora, 'target_modules'), dropout: get(lora, 'dropout'), bias: get(lora, 'bias'),
    use_dora: get(lora, 'use_dora', false), modules_to_save: get(lora, 'modules_to_save'), quantization: get(lora, 'quantization', 'none'),
    double_quant: get(lora, 'double_quant', false), workers: get(header, 'workers', 'auto'), backend: get(header, 'backend', 'auto'),
  };
  const numbers = [keys.batch_size, keys.max_length, keys.r, keys.dropout].every((v) => typeof v === 'number');
  const workers = keys.workers === 'auto' || typeof keys.workers === 'number';
  return numbers && workers && typeof keys.backend === 'string' ? (keys as TrainerMemoryKeys) : undefined;
}

/**
 * The key to point at: the header's workers when more than one worker is the whole problem; the model's
 * path when no training setting helps (the weights alone); else what sizes the activations (the
 * tokenizer's max_length, the trainer's batch_size, as set), else the trainer's name.
 */
function where(config: LlamaConfig, plan: TrainerMemoryPlan, trainer: StageNode, tok: StageNode, model: StageNode, ctx: ValidationContext): SourceRange {
  const header = ctx.ast.stages.find((s) => s.kind === 'pipeline');
  const set = (stage: StageNode | undefined, key: string) => (stage ? ctx.entry(stage, key)?.value?.range : undefined);
  const e = plan.estimate;
  if (plan.shape.workers > 1 && e.maxWorkers >= 1 && set(header, 'workers')) return set(header, 'workers')!;
  if (weightsAloneTooLarge(config, plan)) return set(model, 'path') ?? model.nameRange;
  return set(tok, 'max_length') ?? set(trainer, 'batch_size') ?? trainer.nameRange;
}
