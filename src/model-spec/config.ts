import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { FtcError } from '../errors.js';

/**
 * A Llama-family decoder's hyper-parameters, read from a Hugging Face config.json.
 * Each field names its config.json key and the default Hugging Face applies when the key is absent.
 * Llama, Mistral, Qwen2 and TinyLlama (a Llama) all map onto this one shape.
 */
export interface LlamaConfig {
  /** `vocab_size` (Llama default 32000). Rows of embed_tokens and lm_head. */
  vocabSize: number;
  /** `hidden_size` (4096). Width of the residual stream. */
  hiddenSize: number;
  /** `intermediate_size` (11008). Width of the SwiGLU MLP. */
  intermediateSize: number;
  /** `num_hidden_layers` (32). */
  numHiddenLayers: number;
  /** `num_attention_heads` (32). Query heads. */
  numAttentionHeads: number;
  /** `num_key_value_heads` (default: num_attention_heads, i.e. plain multi-head attention). */
  numKeyValueHeads: number;
  /** `head_dim` (default: hidden_size / num_attention_heads). */
  headDim: number;
  /** `max_position_embeddings` (2048). Longest sequence the model was trained for. */
  maxPositionEmbeddings: number;
  /** `rms_norm_eps` (1e-6). */
  rmsNormEps: number;
  /**
   * `rope_parameters.rope_theta` (transformers 5), else `rope_theta` (10000). Base of the rotary frequencies.
   */
  ropeTheta: number;
  /**
   * `rope_parameters` (transformers 5) or the older `rope_scaling` (null), with `rope_type` (or `type`)
   * "default" meaning none. Only linear position interpolation is supported: positions are divided by `factor`.
   */
  ropeScaling: { type: 'linear'; factor: number } | null;
  /** `tie_word_embeddings` (false). When true lm_head reuses embed_tokens and may be absent from the weights. */
  tieWordEmbeddings: boolean;
  /**
   * `attention_bias` (false). Llama: biases on q/k/v/o_proj alike. Qwen2: always true, and on q/k/v only
   * (never o_proj). Mistral: always false. `moduleHasBias` in modules.ts says exactly which exist.
   */
  attentionBias: boolean;
  /**
   * `bos_token_id` (Llama, Mistral: 1; Qwen2: none, as in transformers, where null is allowed). Absent, the
   * tokenizer's own BOS is the only one there is.
   */
  bosTokenId?: number;
  /** `eos_token_id` (Llama, Mistral: 2; Qwen2: none); when config.json holds a list (Llama 3), the first of them. */
  eosTokenId?: number;
  /**
   * Every end-of-sequence id: `eos_token_id` as a list (generation stops on any of them); empty where config.json
   * has none, and generation then stops on generation_config.json's or the tokenizer's EOS (model/stop-tokens.ts).
   */
  eosTokenIds: number[];
  /** `pad_token_id` (absent: none). */
  padTokenId?: number;
  /** `architectures[0]`, e.g. LlamaForCausalLM. */
  architecture: LlamaArchitecture;
  /** `model_type`, e.g. llama, mistral, qwen2. */
  modelType: string;
  /**
   * `dtype` (transformers 5) or `torch_dtype`: the dtype the checkpoint stores its weights in, when config.json
   * names one ftc reads (absent, or "auto": unknown). The memory plan takes the resident dtype from it.
   */
  storedDtype?: 'float32' | 'float16' | 'bfloat16';
}

export type LlamaArchitecture = 'LlamaForCausalLM' | 'MistralForCausalLM' | 'Qwen2ForCausalLM';

/** config.json's model_type for each supported architecture (used when `architectures` is absent). */
const MODEL_TYPES: Record<string, LlamaArchitecture> = {
  llama: 'LlamaForCausalLM',
  mistral: 'MistralForCausalLM',
  qwen2: 'Qwen2ForCausalLM',
};

/** Defaults differ per architecture exactly where Hugging Face's config classes differ. */
const DEFAULTS: Record<LlamaArchitecture, { vocab: number; hidden: number; ffn: number; layers: number; heads: number; maxPos: number; bos?: number; eos?: number }> = {
  LlamaForCausalLM: { vocab: 32000, hidden: 4096, ffn: 11008, layers: 32, heads: 32, maxPos: 2048, bos: 1, eos: 2 },
  MistralForCausalLM: { vocab: 32000, hidden: 4096, ffn: 14336, layers: 32, heads: 32, maxPos: 4096 * 32, bos: 1, eos: 2 },
  Qwen2ForCausalLM: { vocab: 151936, hidden: 4096, ffn: 22016, layers: 32, heads: 32, maxPos: 32768 },
};

const HINT = 'ftc supports LlamaForCausalLM, MistralForCausalLM and Qwen2ForCausalLM configs (TinyLlama is a Llama)';

/** Reads `config.json` from a Hugging Face model directory. */
export function loadLlamaConfig(dir: string): LlamaConfig {
  const file = join(dir, 'config.json');
  if (!existsSync(file)) {
    throw new FtcError('E_MODEL_CONFIG_MISSING', `no config.json in model directory ${dir}`, { file },
      'a model directory holds config.json and model.safetensors; `ftc init-model DIR` writes a small one');
  }
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    throw new FtcError('E_MODEL_CONFIG_INVALID', `config.json is not valid JSON: ${(e as Error).message}`, { file });
  }
  return parseLlamaConfig(json, file);
}

/** Validates a parsed config.json; every unsupported or malformed value names its field and the file. */
export function parseLlamaConfig(json: unknown, file: string): LlamaConfig {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw new FtcError('E_MODEL_CONFIG_INVALID', 'config.json must hold a JSON object', { file });
  }
  const c = json as Record<string, unknown>;
  const bad = (field: string, why: string, hint?: string): FtcError =>
    new FtcError('E_MODEL_CONFIG_INVALID', `config.json field "${field}" ${why}`, { file }, hint);
  const unsupported = (field: string, why: string, hint = HINT): FtcError =>
    new FtcError('E_MODEL_CONFIG_UNSUPPORTED', `config.json field "${field}" ${why}`, { file }, hint);

  const architecture = pickArchitecture(c, unsupported);
  const d = DEFAULTS[architecture];
  const int = (field: string, dflt: number | undefined, min = 1): number => {
    const v = c[field] ?? dflt;
    if (v === undefined) throw bad(field, 'is required');
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min) throw bad(field, `must be an integer >= ${min}, found ${JSON.stringify(v)}`);
    return v;
  };
  const positive = (field: string, dflt: number): number => {
    const v = c[field] ?? dflt;
    if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) throw bad(field, `must be a positive number, found ${JSON.stringify(v)}`);
    return v;
  };
  const bool = (field: string, dflt: boolean): boolean => {
    const v = c[field] ?? dflt;
    if (typeof v !== 'boolean') throw bad(field, `must be true or false, found ${JSON.stringify(v)}`);
    return v;
  };

  const hiddenSize = int('hidden_size', d.hidden);
  const numAttentionHeads = int('num_attention_heads', d.heads);
  const numKeyValueHeads = int('num_key_value_heads', numAttentionHeads);
  if (numAttentionHeads % numKeyValueHeads !== 0) {
    throw bad('num_key_value_heads', `(${numKeyValueHeads}) must divide num_attention_heads (${numAttentionHeads})`);
  }
  // transformers 5's LlamaConfig.validate_architecture refuses this even when head_dim is given;
  // Mistral and Qwen2 accept an explicit head_dim instead (their attention reads config.head_dim).
  if (hiddenSize % numAttentionHeads !== 0 && (c.head_dim == null || architecture === 'LlamaForCausalLM')) {
    throw bad('num_attention_heads', `(${numAttentionHeads}) must divide hidden_size (${hiddenSize})${architecture === 'LlamaForCausalLM' ? ' (transformers refuses a LlamaConfig where it does not, even with head_dim)' : ' when head_dim is absent'}`);
  }
  const headDim = int('head_dim', hiddenSize / numAttentionHeads);
  if (headDim % 2 !== 0) throw bad('head_dim', `must be even for rotary embeddings, found ${headDim}`);
  const maxPositionEmbeddings = int('max_position_embeddings', d.maxPos);

  const act = c.hidden_act ?? 'silu';
  if (act !== 'silu') throw unsupported('hidden_act', `is ${JSON.stringify(act)}; only "silu" (SwiGLU) is supported`);
  if (c.mlp_bias === true) throw unsupported('mlp_bias', 'is true; MLP biases are not supported');
  checkSlidingWindow(c, architecture, maxPositionEmbeddings, unsupported);

  // Qwen2 has q/k/v biases by construction and Mistral none, whatever config.json says; only Llama reads the field.
  const attentionBias = architecture === 'Qwen2ForCausalLM' ? true : architecture === 'MistralForCausalLM' ? false : bool('attention_bias', false);
  const eos = tokenIds(c.eos_token_id ?? d.eos, 'eos_token_id', bad);
  const bos = tokenIds(c.bos_token_id ?? d.bos ?? eos[0], 'bos_token_id', bad);
  const pad = c.pad_token_id == null ? undefined : tokenIds(c.pad_token_id, 'pad_token_id', bad)[0];

  const config: LlamaConfig = {
    vocabSize: int('vocab_size', d.vocab),
    hiddenSize,
    intermediateSize: int('intermediate_size', d.ffn),
    numHiddenLayers: int('num_hidden_layers', d.layers),
    numAttentionHeads,
    numKeyValueHeads,
    headDim,
    maxPositionEmbeddings,
    rmsNormEps: positive('rms_norm_eps', 1e-6),
    ...parseRope(c, bad, unsupported),
    tieWordEmbeddings: bool('tie_word_embeddings', false),
    attentionBias,
    eosTokenIds: eos,
    architecture,
    modelType: typeof c.model_type === 'string' ? c.model_type : Object.keys(MODEL_TYPES).find((k) => MODEL_TYPES[k] === architecture)!,
  };
  if (bos[0] !== undefined) config.bosTokenId = bos[0];
  if (eos[0] !== undefined) config.eosTokenId = eos[0];
  if (pad !== undefined) config.padTokenId = pad;
  const dtype = c.dtype ?? c.torch_dtype;
  if (dtype === 'float32' || dtype === 'float16' || dtype === 'bfloat16') config.storedDtype = dtype;
  for (const [field, id] of [['bos_token_id', config.bosTokenId], ['pad_token_id', pad], ...eos.map((e) => ['eos_token_id', e] as const)] as const) {
    if (id !== undefined && id >= config.vocabSize) throw bad(field, `(${id}) is outside the vocabulary (vocab_size ${config.vocabSize})`);
  }
  return config;
}

function pickArchitecture(c: Record<string, unknown>, unsupported: (f: string, w: string) => FtcError): LlamaArchitecture {
  const archs = c.architectures;
  if (archs !== undefined) {
    if (!Array.isArray(archs) || archs.length === 0 || typeof archs[0] !== 'string') {
      throw unsupported('architectures', `must be a list naming the model class, found ${JSON.stringify(archs)}`);
    }
    const a = archs[0];
    if (a === 'LlamaForCausalLM' || a === 'MistralForCausalLM' || a === 'Qwen2ForCausalLM') return a;
    throw unsupported('architectures', `names ${a}, which ftc cannot run`);
  }
  const mt = c.model_type;
  if (typeof mt === 'string' && MODEL_TYPES[mt]) return MODEL_TYPES[mt]!;
  throw unsupported('model_type', `is ${JSON.stringify(mt)} and "architectures" is absent; expected one of ${Object.keys(MODEL_TYPES).join(', ')}`);
}

/** Sliding-window attention only matters when the window is shorter than the context; ftc runs full attention. */
function checkSlidingWindow(
  c: Record<string, unknown>, arch: LlamaArchitecture, maxPos: number, unsupported: (f: string, w: string, h?: string) => FtcError,
): void {
  if (arch === 'LlamaForCausalLM') return;
  // Qwen2 ignores sliding_window unless use_sliding_window is true; Mistral always applies it.
  if (arch === 'Qwen2ForCausalLM' && c.use_sliding_window !== true) return;
  const w = arch === 'Qwen2ForCausalLM' ? c.sliding_window : (c.sliding_window === undefined ? 4096 : c.sliding_window);
  if (w === null || w === undefined) return;
  if (typeof w === 'number' && w >= maxPos) return;
  throw unsupported('sliding_window', `is ${JSON.stringify(w)}, shorter than max_position_embeddings (${maxPos}); sliding-window attention is not supported`,
    'set sliding_window to null (or >= max_position_embeddings) if the model was trained with full attention');
}

/**
 * Rotary base and scaling, with transformers 5's precedence (RotaryEmbeddingConfigMixin.convert_rope_params_to_dict):
 * a legacy `rope_scaling` replaces `rope_parameters`; `rope_theta` inside that dict wins over the top-level
 * `rope_theta`, then 10000; `rope_type` (older files: `type`) defaults to "default", which means unscaled.
 */
function parseRope(
  c: Record<string, unknown>, bad: (f: string, w: string) => FtcError, unsupported: (f: string, w: string) => FtcError,
): Pick<LlamaConfig, 'ropeTheta' | 'ropeScaling'> {
  const field = c.rope_scaling != null ? 'rope_scaling' : 'rope_parameters';
  const v = c.rope_scaling ?? c.rope_parameters ?? null;
  if (v !== null && (typeof v !== 'object' || Array.isArray(v))) throw bad(field, `must be an object or null, found ${JSON.stringify(v)}`);
  const r = (v ?? {}) as Record<string, unknown>;
  if (Object.values(r).some((x) => x !== null && typeof x === 'object')) {
    throw unsupported(field, 'holds rotary parameters per layer type; one set for every layer is supported');
  }
  const theta = r.rope_theta ?? c.rope_theta ?? 10000;
  if (typeof theta !== 'number' || !Number.isFinite(theta) || theta <= 0) {
    throw bad(r.rope_theta !== undefined ? `${field}.rope_theta` : 'rope_theta', `must be a positive number, found ${JSON.stringify(theta)}`);
  }
  const type = r.rope_type ?? r.type ?? 'default';
  if (type === 'default') return { ropeTheta: theta, ropeScaling: null };
  if (type !== 'linear') throw unsupported(field, `has rope_type ${JSON.stringify(type)}; only "default" and "linear" rotary embeddings are supported`);
  const factor = r.factor;
  if (typeof factor !== 'number' || !Number.isFinite(factor) || factor <= 0) {
    throw bad(`${field}.factor`, `must be a positive number, found ${JSON.stringify(factor)}`);
  }
  return { ropeTheta: theta, ropeScaling: { type: 'linear', factor } };
}

/** A token id or a list of them; null or absent (allowed by transformers' config classes) is none. */
function tokenIds(v: unknown, field: string, bad: (f: string, w: string) => FtcError): number[] {
  if (v === undefined || v === null) return [];
  const list = Array.isArray(v) ? v : [v];
  if (list.length === 0 || !list.every((x) => typeof x === 'number' && Number.isInteger(x) && x >= 0)) {
    throw bad(field, `must be a token id (a non-negative integer) or a list of them, found ${JSON.stringify(v)}`);
  }
  return list as number[];
}

/**
 * The config.json a Hugging Face LlamaConfig would write for these values (used by init-model). `torch_dtype`
 * is the config's storedDtype (float32 when unknown): the plan reads it back as the weights' stored dtype.
 */
export function llamaConfigToJson(c: LlamaConfig): Record<string, unknown> {
  return {
    architectures: [c.architecture],
    attention_bias: c.attentionBias,
    attention_dropout: 0.0,
    bos_token_id: c.bosTokenId ?? null,
    eos_token_id: c.eosTokenIds.length > 1 ? c.eosTokenIds : c.eosTokenId ?? null,
    head_dim: c.headDim,
    hidden_act: 'silu',
    hidden_size: c.hiddenSize,
    initializer_range: 0.02,
    intermediate_size: c.intermediateSize,
    max_position_embeddings: c.maxPositionEmbeddings,
    mlp_bias: false,
    model_type: c.modelType,
    num_attention_heads: c.numAttentionHeads,
    num_hidden_layers: c.numHiddenLayers,
    num_key_value_heads: c.numKeyValueHeads,
    ...(c.padTokenId !== undefined ? { pad_token_id: c.padTokenId } : {}),
    pretraining_tp: 1,
    rms_norm_eps: c.rmsNormEps,
    rope_scaling: c.ropeScaling ? { rope_type: 'linear', factor: c.ropeScaling.factor } : null,
    rope_theta: c.ropeTheta,
    tie_word_embeddings: c.tieWordEmbeddings,
    torch_dtype: c.storedDtype ?? 'float32',
    use_cache: true,
    vocab_size: c.vocabSize,
  };
}
