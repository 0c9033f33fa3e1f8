import { isAbsolute, join } from 'node:path';
import type { StageNode } from '../ast.js';
import { LINEAR_MODULES } from '../../schema/lora.js';
import { PATH_KIND_TEXT, pathKind } from '../../path-kind.js';
import { readConfig, safeStat, type ValidationContext } from './context.js';

const label = (s: StageNode): string => `${s.kind} '${s.name}'`;

/** E0301-E0303 / W0301: every `x-path` names an existing file or directory, relative to the pipeline. */
export function paths(stage: StageNode, ctx: ValidationContext): void {
  if (!ctx.checkFiles) return;
  for (const e of stage.entries) {
    const want = ctx.keySchema(stage, e.key)?.['x-path'];
    if (!want || e.value?.type !== 'string') continue;
    const written = e.value.value;
    if (isAbsolute(written)) ctx.warning('W0301', e.value.range, `${label(stage)}: ${e.key} is an absolute path; a path relative to the pipeline file keeps the pipeline portable.`);
    const abs = ctx.resolvePath(written);
    const kind = pathKind(abs);
    if (kind === 'missing') ctx.error('E0301', e.value.range, `${label(stage)}: ${e.key} "${written}" does not exist (looked for ${abs}); paths are relative to the pipeline file's directory.`);
    else if (kind !== 'file' && kind !== 'dir') ctx.error('E0352', e.value.range, `${label(stage)}: ${e.key} "${written}" ${PATH_KIND_TEXT[kind]}; a ${want === 'dir' ? 'directory' : 'file'} is expected.`);
    else if (want === 'dir' && kind !== 'dir') ctx.error('E0302', e.value.range, `${label(stage)}: ${e.key} "${written}" is a file, but a directory is expected.`);
    else if (want === 'file' && kind !== 'file') ctx.error('E0303', e.value.range, `${label(stage)}: ${e.key} "${written}" is a directory, but a file is expected.`);
  }
}

/** E0304 / E0305: a model directory holds a readable Hugging Face config.json. */
export function modelConfigReadable(stage: StageNode, ctx: ValidationContext): void {
  const p = ctx.entry(stage, 'path')?.value;
  if (!ctx.checkFiles || p?.type !== 'string') return;
  const dir = ctx.resolvePath(p.value);
  if (!safeStat(dir)?.isDirectory()) return; // reported by `paths`
  const read = readConfig(join(dir, 'config.json'));
  if (read.ok) return;
  if (read.missing) ctx.error('E0304', p.range, `${label(stage)}: "${p.value}" has no config.json; a model directory is in Hugging Face layout (config.json + model.safetensors).`);
  else ctx.error('E0305', p.range, `${label(stage)}: config.json in "${p.value}" ${read.reason}.`);
}

/** The model stage behind a trainer's or lora's `model` (through a lora stage when there is one). */
function baseModel(stage: StageNode, ctx: ValidationContext): StageNode | undefined {
  let s = ctx.target(stage, 'model');
  if (s?.kind === 'lora') s = ctx.target(s, 'model');
  return s?.kind === 'model' ? s : undefined;
}

/** E0306: the tokenizer's max_length fits the context of the model the trainer trains. */
export function maxLengthWithinContext(trainer: StageNode, ctx: ValidationContext): void {
  const tok = ctx.target(trainer, 'data');
  const model = baseModel(trainer, ctx);
  if (tok?.kind !== 'tokenizer' || !model) return;
  const context = ctx.modelConfig(model)?.max_position_embeddings;
  if (typeof context !== 'number') return;
  const set = ctx.entry(tok, 'max_length')?.value;
  const maxLength = set?.type === 'number' ? set.value : set ? undefined : (ctx.keySchema(tok, 'max_length')!.default as number);
  if (maxLength === undefined || maxLength <= context) return;
  ctx.error(
    'E0306',
    set?.range ?? tok.nameRange,
    `${label(tok)}: max_length ${maxLength}${set ? '' : ' (the default)'} exceeds the context of model '${model.name}' (max_position_embeddings = ${context}), which trainer '${trainer.name}' trains; set max_length = ${context} or less.`,
  );
}

/**
 * The linear layers each architecture has, by the names PEFT targets. ftc runs the Llama family;
 * other architectures are listed so a mismatch says what the model does have.
 */
const ARCHITECTURE_MODULES: Record<string, readonly string[]> = {
  LlamaForCausalLM: LINEAR_MODULES,
  MistralForCausalLM: LINEAR_MODULES,
  Qwen2ForCausalLM: LINEAR_MODULES,
  GPT2LMHeadModel: ['c_attn', 'c_proj', 'c_fc'],
  GPTNeoXForCausalLM: ['query_key_value', 'dense', 'dense_h_to_4h', 'dense_4h_to_h'],
  PhiForCausalLM: ['q_proj', 'k_proj', 'v_proj', 'dense', 'fc1', 'fc2'],
};

/** E0307 / W0302: every target module exists in the model's architecture (from its config.json). */
export function targetModulesInModel(lora: StageNode, ctx: ValidationContext): void {
  const model = ctx.target(lora, 'model');
  if (model?.kind !== 'model') return;
  const config = ctx.modelConfig(model);
  if (!config) return;
  const arch = Array.isArray(config.architectures) ? String(config.architectures[0]) : String(config.model_type ?? 'unknown');
  const modules = ARCHITECTURE_MODULES[arch];
  if (!modules || modules === LINEAR_MODULES) {
    if (!modules) ctx.warning('W0302', lora.nameRange, `${label(lora)}: model '${model.name}' is a ${arch}; ftc runs Llama-family models (${Object.keys(ARCHITECTURE_MODULES).slice(0, 3).join(', ')}), so target_modules are not checked.`);
    return;
  }
  const tm = ctx.entry(lora, 'target_modules')?.value;
  // Unset: the default modules, reported at the stage name.
  const named = tm?.type === 'list' ? tm.items.map((item) => ({ name: item.type === 'ident' ? item.name : item.type === 'string' ? item.value : undefined, range: item.range }))
    : tm ? [] : (ctx.keySchema(lora, 'target_modules')!.default as string[]).map((name) => ({ name, range: lora.nameRange }));
  for (const { name, range } of named) {
    if (name !== undefined && !modules.includes(name)) {
      ctx.error('E0307', range, `${label(lora)}: model '${model.name}' (${arch}) has no ${name}; its linear layers are ${modules.join(', ')}.`);
    }
  }
}
