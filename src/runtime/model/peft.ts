import { existsSync, mkdirSync, readFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { FtcError } from '../../errors.js';
import { writeFileAtomic } from '../atomic-file.js';
import type { HostTensor } from './api.js';
import type { LlamaConfig } from '../../model-spec/config.js';
import { LINEAR_MODULES, moduleDims, moduleParent } from '../../model-spec/modules.js';
import { readSafetensors, writeSafetensors } from './safetensors.js';
import { type QuantSettings, readQuantizationFile, writeQuantizationFile } from '../quant/base-4bit.js';

/**
 * LoRA adapters on disk exactly as Hugging Face PEFT saves them, so `PeftModel.from_pretrained(base, dir)`
 * loads ours and we load theirs: adapter_config.json + adapter_model.safetensors with keys
 * `base_model.model.model.layers.{i}.self_attn.q_proj.lora_A.weight` ([r, in]) and `...lora_B.weight` ([out, r]),
 * DoRA's magnitude vector as `...q_proj.lora_magnitude_vector` ([out]; PEFT saves it without `.weight`),
 * and trained biases under the names PEFT gives them (`savedBiasKey`). Verified against peft 0.21 by
 * test/interop/peft.test.ts and transformers-save.test.ts.
 */

/** Path of a layer's linear module inside the base model, e.g. `model.layers.0.self_attn.q_proj`. */
export function modulePath(layer: number, module: string): string {
  const parent = moduleParent(module);
  if (!parent) throw new Error(`not a Llama linear module: ${module}`);
  return `model.layers.${layer}.${parent}.${module}`;
}

/** PEFT's saved key for a LoRA matrix, e.g. `base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight`. */
export function peftKey(layer: number, module: string, matrix: 'lora_A' | 'lora_B'): string {
  return `base_model.model.${modulePath(layer, module)}.${matrix}.weight`;
}

/**
 * modules_to_save: whole modules PEFT trains beside the adapter, by the name users give them, and their
 * weights' paths in the base model. PEFT keeps a trained copy as `...embed_tokens.modules_to_save.default.weight`
 * and saves it under the base model's own name, `base_model.model.model.embed_tokens.weight`.
 */
export const SAVABLE_MODULES: Readonly<Record<string, string>> = { embed_tokens: 'model.embed_tokens.weight', lm_head: 'lm_head.weight' };

/** PEFT's saved key of a modules_to_save module's weight, e.g. `base_model.model.lm_head.weight`. */
export function savedModuleKey(module: string): string {
  return `base_model.model.${SAVABLE_MODULES[module]!}`;
}

/** The modules_to_save module a saved or in-memory PEFT key holds (`embed_tokens`, `lm_head`), else undefined. */
export function parseSavedModuleKey(key: string): string | undefined {
  const saved = key.replace(/\.modules_to_save\.default\.weight$/, '.weight');
  return Object.keys(SAVABLE_MODULES).find((m) => saved === savedModuleKey(m));
}

/** PEFT's saved key for DoRA's magnitude vector [out], e.g. `base_model.model.model.layers.0.self_attn.q_proj.lora_magnitude_vector`. */
export function peftMagnitudeKey(layer: number, module: string): string {
  return `base_model.model.${modulePath(layer, module)}.lora_magnitude_vector`;
}

/**
 * ftc's name for a trained bias (bias = all | lora_only), the same whether or not the module is adapted,
 * e.g. `base_model.model.model.layers.0.self_attn.k_proj.bias`. On disk PEFT names it by where the bias lives
 * in its module tree: see `savedBiasKey`.
 */
export function peftBiasKey(layer: number, module: string): string {
  return `base_model.model.${modulePath(layer, module)}.bias`;
}

/**
 * PEFT's saved key for a trained bias (peft 0.21 `_get_learnable_bias_state_dict`): a LoRA-wrapped module
 * keeps its original Linear as `base_layer`, so an adapted module's bias is `...q_proj.base_layer.bias`;
 * with bias = all, an unadapted module's bias keeps its plain name `...k_proj.bias`. PEFT loads with
 * strict=False, so a bias under any other name is dropped without a word.
 */
export function savedBiasKey(layer: number, module: string, adapted: boolean): string {
  return `base_model.model.${modulePath(layer, module)}.${adapted ? 'base_layer.' : ''}bias`;
}

const KEY_RE = /^base_model\.model\.model\.layers\.(\d+)\.(self_attn|mlp)\.(\w+)\.(lora_A\.weight|lora_B\.weight|lora_magnitude_vector|base_layer\.bias|bias)$/;

export interface ParsedPeftKey {
  layer: number;
  module: string;
  part: 'lora_A' | 'lora_B' | 'magnitude' | 'bias';
  /** For a bias: saved under `base_layer` (where PEFT keeps an adapted module's bias). */
  onBaseLayer: boolean;
}

/** Parses a saved or in-memory PEFT key; undefined for keys that are not a Llama LoRA matrix or bias. */
export function parsePeftKey(key: string): ParsedPeftKey | undefined {
  // In memory PEFT names carry the adapter name (`lora_A.default.weight`, `lora_magnitude_vector.default.weight`);
  // the saved form drops it (and the magnitude's `.weight`).
  const saved = key.replace(/\.(lora_[AB])\.default\.weight$/, '.$1.weight').replace(/\.lora_magnitude_vector\.default\.weight$/, '.lora_magnitude_vector');
  const m = KEY_RE.exec(saved);
  if (!m || moduleParent(m[3]!) !== m[2]) return undefined;
  const part = m[4]!.endsWith('bias') ? 'bias' : m[4] === 'lora_magnitude_vector' ? 'magnitude' : (m[4]!.slice(0, 6) as 'lora_A' | 'lora_B');
  return { layer: Number(m[1]), module: m[3]!, part, onBaseLayer: m[4] === 'base_layer.bias' };
}

export interface AdapterConfig {
  r: number;
  alpha: number;
  dropout: number;
  targetModules: string[];
  bias: 'none' | 'all' | 'lora_only';
  useRslora: boolean;
  /** use_dora: a magnitude vector per adapted module; absent means false. */
  useDora?: boolean;
  /** modules_to_save (embed_tokens, lm_head); absent means none. */
  modulesToSave?: string[];
  /** `base_model_name_or_path`: the model directory or hub id the adapter was trained on. */
  baseModel: string;
  /**
   * QLoRA: the base's linears were 4-bit. PEFT's adapter_config.json has no field for it, so it travels beside
   * the adapter as transformers' quantization_config (src/runtime/quant/base-4bit.ts, QUANTIZATION_FILE).
   */
  quantization?: QuantSettings;
  /** With quantization: the compute dtype the pipeline asked for (recorded, as bnb_4bit_compute_dtype). */
  computeDtype?: 'fp32' | 'fp16' | 'bf16';
}

/**
 * adapter_config.json as PEFT's LoraConfig.save_pretrained writes it (sorted keys, indent 2).
 * The field set is the one PEFT has accepted since 0.10; newer PEFT fills its newer fields with defaults,
 * while older PEFT would reject unknown ones, so none are added.
 */
export function adapterConfigJson(c: AdapterConfig): string {
  const json: Record<string, unknown> = {
    alpha_pattern: {},
    auto_mapping: null,
    base_model_name_or_path: c.baseModel,
    bias: c.bias,
    fan_in_fan_out: false,
    inference_mode: true,
    init_lora_weights: true,
    layer_replication: null,
    layers_pattern: null,
    layers_to_transform: null,
    loftq_config: {},
    lora_alpha: c.alpha,
    lora_dropout: c.dropout,
    megatron_config: null,
    megatron_core: 'megatron.core',
    modules_to_save: c.modulesToSave && c.modulesToSave.length > 0 ? c.modulesToSave : null,
    peft_type: 'LORA',
    r: c.r,
    rank_pattern: {},
    revision: null,
    target_modules: c.targetModules,
    task_type: 'CAUSAL_LM',
    use_dora: c.useDora === true,
    use_rslora: c.useRslora,
  };
  return JSON.stringify(json, null, 2);
}

/** Writes adapter_config.json and adapter_model.safetensors (float32, `format: pt` metadata as PEFT writes). */
export function saveAdapter(dir: string, params: Map<string, HostTensor>, config: AdapterConfig): void {
  const tensors = new Map<string, HostTensor & { dtype: 'F32' }>();
  for (const [name, t] of params) {
    const whole = parseSavedModuleKey(name);
    if (whole) {
      tensors.set(savedModuleKey(whole), { shape: t.shape, data: t.data, dtype: 'F32' });
      continue;
    }
    const parsed = parsePeftKey(name);
    if (!parsed) throw new Error(`not a PEFT LoRA parameter name: ${name}`);
    const key = parsed.part === 'bias'
      ? savedBiasKey(parsed.layer, parsed.module, adapts(config, parsed.module))
      : parsed.part === 'magnitude' ? peftMagnitudeKey(parsed.layer, parsed.module) : peftKey(parsed.layer, parsed.module, parsed.part);
    tensors.set(key, { shape: t.shape, data: t.data, dtype: 'F32' });
  }
  mkdirSync(dir, { recursive: true });
  writeSafetensors(join(dir, 'adapter_model.safetensors'), tensors, { format: 'pt' });
  writeFileAtomic(join(dir, 'adapter_config.json'), (fd) => writeSync(fd, adapterConfigJson(config)));
  if (config.quantization) writeQuantizationFile(dir, config.quantization, config.computeDtype);
}

/** Whether the adapter wraps `module` in LoRA (target_modules may still say all-linear). */
function adapts(config: Pick<AdapterConfig, 'targetModules'>, module: string): boolean {
  return config.targetModules.includes(module) || (config.targetModules.includes('all-linear') && moduleParent(module) !== undefined);
}

/**
 * Reads a PEFT LoRA adapter (ours or Python peft's) and checks it: a LORA config ftc can run, every key
 * a LoRA matrix of a target module with A [r, in] and B [out, r] in pairs, every bias one that the bias
 * setting trains, and, given the base model's config, dimensions and layer indices that fit it.
 * The tensors come back under ftc's names: LoRA matrices as saved, biases as `peftBiasKey` names them.
 */
export function loadAdapter(dir: string, model?: LlamaConfig): { config: AdapterConfig; tensors: Map<string, HostTensor> } {
  const cfgFile = join(dir, 'adapter_config.json');
  const weightsFile = join(dir, 'adapter_model.safetensors');
  for (const f of [cfgFile, weightsFile]) {
    if (!existsSync(f)) {
      throw new FtcError('E_ADAPTER_MISSING', `adapter directory ${dir} has no ${f.slice(dir.length + 1)}`, { file: f },
        'an adapter directory holds adapter_config.json and adapter_model.safetensors (PEFT format)');
    }
  }
  const config = parseAdapterConfig(cfgFile);
  const quantization = readQuantizationFile(dir);
  if (quantization) config.quantization = quantization;
  const tensors = readSafetensors(weightsFile);
  const bad = (code: string, msg: string): FtcError => new FtcError(code, msg, { file: weightsFile }, 'the adapter does not match its adapter_config.json or base model');

  const pairs = new Map<string, { A?: number[]; B?: number[]; magnitude?: boolean; layer: number; module: string }>();
  const named = new Map<string, HostTensor>();
  for (const [key, t] of tensors) {
    const whole = parseSavedModuleKey(key);
    if (whole) {
      if (!config.modulesToSave?.includes(whole)) throw bad('E_ADAPTER_KEYS', `tensor "${key}" is the whole ${whole}, which adapter_config.json's modules_to_save does not list`);
      const want = model ? [model.vocabSize, model.hiddenSize] : undefined;
      if (t.shape.length !== 2 || (want && (t.shape[0] !== want[0] || t.shape[1] !== want[1]))) {
        throw bad('E_ADAPTER_SHAPE', `"${key}" has shape [${t.shape}], expected [${want ?? 'vocab, hidden'}]`);
      }
      named.set(savedModuleKey(whole), t);
      continue;
    }
    const p = parsePeftKey(key);
    if (!p) throw bad('E_ADAPTER_KEYS', `unexpected tensor "${key}"; expected PEFT LoRA keys like ${peftKey(0, 'q_proj', 'lora_A')}`);
    const adapted = adapts(config, p.module);
    if (model && p.layer >= model.numHiddenLayers) throw bad('E_ADAPTER_KEYS', `tensor "${key}" is for layer ${p.layer} but the model has ${model.numHiddenLayers} layers`);
    const dims = model ? moduleDims(model, p.module) : undefined;
    if (p.part === 'bias') {
      if (config.bias === 'none') throw bad('E_ADAPTER_KEYS', `tensor "${key}" is a bias but adapter_config.json says bias "none"`);
      if (!adapted && (config.bias === 'lora_only' || p.onBaseLayer)) {
        throw bad('E_ADAPTER_KEYS', `tensor "${key}" is the bias of ${p.module}, which is not in target_modules [${config.targetModules.join(', ')}]` +
          (config.bias === 'lora_only' ? ' (bias "lora_only" trains only the adapted modules\' biases)' : ''));
      }
      // An adapted module's bias is `base_layer.bias` as PEFT saves it; the plain name is what ftc wrote before
      // it matched PEFT, still read so those adapters load.
      if (t.shape.length !== 1 || (dims && t.shape[0] !== dims.out)) throw bad('E_ADAPTER_SHAPE', `bias "${key}" has shape [${t.shape}], expected [${dims?.out ?? 'out'}]`);
      const name = peftBiasKey(p.layer, p.module);
      if (named.has(name)) throw bad('E_ADAPTER_KEYS', `the bias of ${modulePath(p.layer, p.module)} is saved twice (as ${name} and under base_layer)`);
      named.set(name, t);
      continue;
    }
    if (!adapted) {
      throw bad('E_ADAPTER_KEYS', `tensor "${key}" adapts ${p.module}, which is not in target_modules [${config.targetModules.join(', ')}]`);
    }
    named.set(key, t);
    const entry = pairs.get(`${p.layer}.${p.module}`) ?? { layer: p.layer, module: p.module };
    const [rows, cols] = t.shape;
    if (p.part === 'magnitude') {
      if (!config.useDora) throw bad('E_ADAPTER_KEYS', `tensor "${key}" is a DoRA magnitude but adapter_config.json says use_dora false`);
      if (t.shape.length !== 1 || (dims && rows !== dims.out)) throw bad('E_ADAPTER_SHAPE', `"${key}" has shape [${t.shape}], expected [${dims?.out ?? 'out'}]`);
      entry.magnitude = true;
    } else if (p.part === 'lora_A') {
      if (t.shape.length !== 2 || rows !== config.r || (dims && cols !== dims.in)) {
        throw bad('E_ADAPTER_SHAPE', `"${key}" has shape [${t.shape}], expected [${config.r}, ${dims?.in ?? 'in'}] (r = ${config.r})`);
      }
      entry.A = t.shape;
    } else {
      if (t.shape.length !== 2 || cols !== config.r || (dims && rows !== dims.out)) {
        throw bad('E_ADAPTER_SHAPE', `"${key}" has shape [${t.shape}], expected [${dims?.out ?? 'out'}, ${config.r}] (r = ${config.r})`);
      }
      entry.B = t.shape;
    }
    pairs.set(`${p.layer}.${p.module}`, entry);
  }
  for (const e of pairs.values()) {
    if (!e.A || !e.B) {
      throw bad('E_ADAPTER_KEYS', `${modulePath(e.layer, e.module)} has ${e.A ? 'lora_A' : 'lora_B'} but no ${e.A ? 'lora_B' : 'lora_A'}`);
    }
    if (config.useDora && !e.magnitude) throw bad('E_ADAPTER_KEYS', `${modulePath(e.layer, e.module)} has no lora_magnitude_vector, which use_dora true requires`);
  }
  if (pairs.size === 0) throw bad('E_ADAPTER_KEYS', 'the adapter holds no LoRA matrices');
  for (const m of config.modulesToSave ?? []) {
    if (!named.has(savedModuleKey(m))) throw bad('E_ADAPTER_KEYS', `modules_to_save lists ${m} but the adapter holds no ${savedModuleKey(m)}`);
  }
  return { config, tensors: named };
}

function parseAdapterConfig(file: string): AdapterConfig {
  let j: Record<string, unknown>;
  try {
    j = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
  } catch (e) {
    throw new FtcError('E_ADAPTER_CONFIG_INVALID', `adapter_config.json is not valid JSON: ${(e as Error).message}`, { file });
  }
  const bad = (field: string, why: string): FtcError =>
    new FtcError('E_ADAPTER_CONFIG_INVALID', `adapter_config.json field "${field}" ${why}`, { file }, 'ftc loads PEFT LoRA adapters for causal LMs');
  if (typeof j !== 'object' || j === null || Array.isArray(j)) throw bad('(root)', 'must be a JSON object');
  if (j.peft_type !== 'LORA') throw bad('peft_type', `is ${JSON.stringify(j.peft_type)}; only "LORA" is supported`);
  const r = j.r;
  if (typeof r !== 'number' || !Number.isInteger(r) || r < 1) throw bad('r', `must be a positive integer, found ${JSON.stringify(r)}`);
  const alpha = j.lora_alpha ?? 8;
  if (typeof alpha !== 'number' || !Number.isFinite(alpha)) throw bad('lora_alpha', `must be a number, found ${JSON.stringify(alpha)}`);
  const dropout = j.lora_dropout ?? 0;
  if (typeof dropout !== 'number' || dropout < 0 || dropout >= 1) throw bad('lora_dropout', `must be in [0, 1), found ${JSON.stringify(dropout)}`);
  let targets = j.target_modules;
  if (targets === 'all-linear') targets = [...LINEAR_MODULES];
  if (!Array.isArray(targets) || targets.length === 0 || !targets.every((t) => typeof t === 'string')) {
    throw bad('target_modules', `must be a non-empty list of module names, found ${JSON.stringify(targets)}`);
  }
  const unknown = (targets as string[]).filter((t) => !moduleParent(t));
  if (unknown.length > 0) throw bad('target_modules', `names ${unknown.join(', ')}; Llama linear modules are ${LINEAR_MODULES.join(', ')}`);
  const bias = j.bias ?? 'none';
  if (bias !== 'none' && bias !== 'all' && bias !== 'lora_only') throw bad('bias', `must be none, all or lora_only, found ${JSON.stringify(bias)}`);
  const useDora = j.use_dora ?? false;
  if (typeof useDora !== 'boolean') throw bad('use_dora', `must be true or false, found ${JSON.stringify(useDora)}`);
  // PEFT ≥ 0.14: a bias on lora_B (`...lora_B.bias`), a different thing from the base biases `bias` trains.
  if (j.lora_bias === true) throw bad('lora_bias', 'is true; LoRA adapters with a lora_B bias are not supported');
  if (j.fan_in_fan_out === true) throw bad('fan_in_fan_out', 'is true; Llama linear layers are never fan_in_fan_out');
  for (const f of ['rank_pattern', 'alpha_pattern'] as const) {
    const v = j[f];
    if (v && typeof v === 'object' && Object.keys(v).length > 0) throw bad(f, 'is not empty; per-module ranks and alphas are not supported');
  }
  const toSave = j.modules_to_save ?? [];
  if (!Array.isArray(toSave) || !toSave.every((m) => typeof m === 'string' && m in SAVABLE_MODULES)) {
    throw bad('modules_to_save', `must be null or a list of ${Object.keys(SAVABLE_MODULES).join(', ')}, found ${JSON.stringify(j.modules_to_save)}`);
  }
  const useRslora = j.use_rslora ?? false;
  if (typeof useRslora !== 'boolean') throw bad('use_rslora', `must be true or false, found ${JSON.stringify(useRslora)}`);
  return {
    r, alpha, dropout, bias, useRslora,
    ...(useDora ? { useDora } : {}),
    ...(toSave.length > 0 ? { modulesToSave: toSave as string[] } : {}),
    targetModules: targets as string[],
    baseModel: typeof j.base_model_name_or_path === 'string' ? j.base_model_name_or_path : '',
  };
}
