import type { StageNode, ValueNode } from '../ast.js';
import type { SourceRange } from '../diagnostics.js';
import { isFtcError } from '../../errors.js';
import { chatTemplateSyntaxError, findChatTemplate } from '../../model-spec/chat-template.js';
import { isLinearModule, resolveTargetModules } from '../../model-spec/modules.js';
import { rankError, rankTooLarge } from '../../model-spec/params.js';
import { RUN_TARGETS, TARGET_QUANTIZATIONS, targetsFor } from '../../model-spec/quantization.js';
import { readTokenizerVocabSize, tokenizerModelMismatch } from '../../model-spec/tokenizer.js';
import { safeStat, type ValidationContext } from './context.js';
import { toJson } from './values.js';

/**
 * Checks of what a run would find out from the model's files before training: each calls the same
 * src/model-spec function the runtime calls, reports the code the runtime raises, and points at the key
 * that causes it (the message names the file the fact comes from).
 */

export const label = (s: StageNode): string => `${s.kind} '${s.name}'`;

/** A key's value as set, or the schema default (then reported at the stage name). */
export function setOrDefault(stage: StageNode, key: string, ctx: ValidationContext): { value: unknown; range: SourceRange; isDefault: boolean } {
  const v = ctx.entry(stage, key)?.value;
  if (v) return { value: toJson(v), range: v.range, isDefault: false };
  return { value: ctx.keySchema(stage, key)?.default, range: stage.nameRange, isDefault: true };
}

/** E_MODEL_CONFIG_*: the model directory's config.json is one ftc's runtime loads (model-spec's parser). */
export function modelConfigSupported(model: StageNode, ctx: ValidationContext): void {
  const read = ctx.modelSpec(model);
  if (read && 'error' in read) ctx.errorFrom(read.error, ctx.entry(model, 'path')!.value!.range, label(model));
}

/** The model stage behind a trainer's or lora's `model` (through a lora stage when there is one). */
export function baseModel(stage: StageNode, ctx: ValidationContext): StageNode | undefined {
  let s = ctx.target(stage, 'model');
  if (s?.kind === 'lora') s = ctx.target(s, 'model');
  return s?.kind === 'model' ? s : undefined;
}

/** E0306: the tokenizer's max_length fits the context of the model the trainer trains. */
export function maxLengthWithinContext(trainer: StageNode, ctx: ValidationContext): void {
  const tok = ctx.target(trainer, 'data');
  const model = baseModel(trainer, ctx);
  if (tok?.kind !== 'tokenizer' || !model) return;
  const context = ctx.modelConfig(model)?.maxPositionEmbeddings;
  if (context === undefined) return;
  const { value: maxLength, range, isDefault } = setOrDefault(tok, 'max_length', ctx);
  if (typeof maxLength !== 'number' || maxLength <= context) return;
  ctx.error('E0306', range,
    `${label(tok)}: max_length ${maxLength}${isDefault ? ' (the default)' : ''} exceeds the context of model '${model.name}' (max_position_embeddings = ${context}), which trainer '${trainer.name}' trains; set max_length = ${context} or less.`);
}

/** E_TOKENIZER_MODEL_MISMATCH: the tokenizer.json the trainer's data comes from fits the model's embedding table. */
export function tokenizerFitsModel(trainer: StageNode, ctx: ValidationContext): void {
  const tok = ctx.target(trainer, 'data');
  const model = baseModel(trainer, ctx);
  const vocab = tok?.kind === 'tokenizer' ? ctx.entry(tok, 'vocab')?.value : undefined;
  if (!tok || !model || vocab?.type !== 'string') return;
  const config = ctx.modelConfig(model);
  const file = ctx.resolvePath(vocab.value);
  if (!config || !safeStat(file)?.isFile()) return;
  const size = readTokenizerVocabSize(file);
  const e = size === undefined ? undefined : tokenizerModelMismatch(size, config, { tokenizer: `"${vocab.value}"`, model: `'${model.name}' (${ctx.modelSpec(model)!.file})` });
  if (e) ctx.errorFrom(e, vocab.range, `${label(tok)} (for trainer '${trainer.name}')`);
}

/** E0307 / E_LORA_RANK: the target modules exist in the model and r fits the smaller dimension of each. */
export function loraFitsModel(lora: StageNode, ctx: ValidationContext): void {
  const model = ctx.target(lora, 'model');
  const config = model?.kind === 'model' ? ctx.modelConfig(model) : undefined;
  if (!config) return;
  const tm = setOrDefault(lora, 'target_modules', ctx);
  // The schema's enum of LINEAR_MODULES already reports a name outside it (E0105), at the item.
  if (tm.value !== 'all-linear' && !(Array.isArray(tm.value) && tm.value.every((m) => typeof m === 'string' && isLinearModule(m)))) return;
  let targets: string[];
  try {
    targets = resolveTargetModules(tm.value as string[] | 'all-linear', config.architecture);
  } catch (e) {
    if (!isFtcError(e)) throw e;
    ctx.errorFrom(e, tm.range, label(lora));
    return;
  }
  const r = setOrDefault(lora, 'r', ctx);
  if (typeof r.value !== 'number') return;
  const tooLarge = rankTooLarge(config, targets, r.value);
  if (tooLarge.length > 0) ctx.errorFrom(rankError(r.value, tooLarge, ctx.modelSpec(model!)!.file), r.range, `${label(lora)} on model '${model!.name}'`);
}

/**
 * E_LORA_QUANTIZATION / W0303: a quantization the chosen target cannot train on is an error (ftc run would
 * stop at the lora stage); one it can, but another target cannot, is a warning that says which command runs it.
 */
export function quantizationForTarget(lora: StageNode, ctx: ValidationContext): void {
  const entry = ctx.entry(lora, 'quantization');
  const q = entry?.value ? toJson(entry.value) : undefined;
  if (typeof q !== 'string') return;
  const runners = targetsFor(q);
  const how = (t: string) => (t === 'run' ? '`ftc run`' : `\`ftc compile --target ${t}\``);
  if (!TARGET_QUANTIZATIONS[ctx.runTarget].includes(q)) {
    ctx.error('E_LORA_QUANTIZATION', entry!.value!.range,
      `${label(lora)}: quantization = ${q} cannot be trained by ${how(ctx.runTarget)}${ctx.runTarget === 'run' ? ' (the embedded runtime has no 4-bit base)' : ''}; ${runners.length ? `${runners.map(how).join(' or ')} can (check it with \`ftc check --target ${runners[0]}\`)` : 'no target can'}, or remove quantization to train a full-precision base.`);
  } else if (RUN_TARGETS.some((t) => !TARGET_QUANTIZATIONS[t].includes(q))) {
    const cannot = RUN_TARGETS.filter((t) => !TARGET_QUANTIZATIONS[t].includes(q));
    ctx.warning('W0303', entry!.value!.range,
      `${label(lora)}: quantization = ${q} is trained by ${runners.map(how).join(' or ')} only; ${cannot.map(how).join(' and ')} refuses this pipeline.`);
  }
}

/** E_PREPROCESS_PARAMS / E_CHAT_TEMPLATE: template = chat names a tokenizer_config.json that has a chat template, and it parses. */
export function chatTemplateFound(pre: StageNode, ctx: ValidationContext): void {
  const template = ctx.entry(pre, 'template')?.value;
  if (!template || toJson(template) !== 'chat') return;
  const file = ctx.entry(pre, 'chat_template')?.value;
  if (!file) {
    ctx.error('E_PREPROCESS_PARAMS', template.range, `${label(pre)}: template = chat needs chat_template, the tokenizer_config.json whose chat template renders the messages.`);
    return;
  }
  if (!ctx.checkFiles || file.type !== 'string') return;
  const abs = ctx.resolvePath(file.value);
  if (!safeStat(abs)?.isFile()) return; // reported by `paths`
  try {
    const syntax = chatTemplateSyntaxError(findChatTemplate(abs, file.value));
    if (syntax) throw syntax;
  } catch (e) {
    if (!isFtcError(e)) throw e;
    ctx.errorFrom(e, (file as ValueNode).range, label(pre));
  }
}

/**
 * E_TRAIN_MODULES: train_modules chooses the weights full fine-tuning trains, so it needs the trainer's model
 * to be a model stage; on a lora stage the adapter decides what trains. (A name outside the modules the
 * schema lists is E0105 at the item.)
 */
export function trainModulesNeedFullFinetuning(trainer: StageNode, ctx: ValidationContext): void {
  const entry = ctx.entry(trainer, 'train_modules');
  const model = ctx.target(trainer, 'model');
  if (!entry?.value || model?.kind !== 'lora') return;
  ctx.error('E_TRAIN_MODULES', entry.value.range,
    `${label(trainer)}: train_modules applies to full fine-tuning, but model = ${model.name} is a lora stage (its target_modules and modules_to_save choose what trains); remove train_modules, or set model = ${ctx.target(model, 'model')?.name ?? 'the model stage'} to fine-tune the whole model.`);
}
