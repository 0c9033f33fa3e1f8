import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, rmdirSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { FtcError } from '../../errors.js';
import { trainBpeTokenizer } from '../tokenize/bpe.js';
import type { HostTensor } from './api.js';
import { type LlamaConfig, llamaConfigToJson, parseLlamaConfig } from '../../model-spec/config.js';
import { writeSafetensors } from './safetensors.js';
import { tokenizerConfigJson, specialTokensMapJson } from './tokenizer-files.js';
import { expectedWeightShapes } from '../../model-spec/modules.js';
import { elementCount } from '../../model-spec/shape.js';

/**
 * `ftc init-model`: a small, randomly initialised Llama in Hugging Face layout, for when no hub is
 * reachable. Initialisation follows transformers' LlamaPreTrainedModel: linear and embedding weights
 * normal(0, initializer_range = 0.02), RMSNorm weights 1, biases 0. Everything is a pure function of
 * the options: the same options and seed give byte-identical files.
 */
export interface InitModelOptions {
  layers: number;
  hidden: number;
  heads: number;
  kvHeads: number;
  ffn: number;
  vocab: number;
  maxPositions: number;
  seed: number;
  dtype: 'f32' | 'f16';
  /** Texts to train the BPE tokenizer on. */
  corpus: string[];
  tieWordEmbeddings?: boolean;
}

/** Small enough that the shipped pipeline (3 epochs of ~300 examples, max_length 512) trains in minutes on 2 cores. */
export const INIT_MODEL_DEFAULTS = { layers: 2, hidden: 64, heads: 4, kvHeads: 2, ffn: 172, vocab: 512, maxPositions: 512, seed: 0, dtype: 'f32' } as const;

export const INITIALIZER_RANGE = 0.02;

export function initModelConfig(o: InitModelOptions): LlamaConfig {
  const json = {
    architectures: ['LlamaForCausalLM'],
    model_type: 'llama',
    vocab_size: o.vocab,
    hidden_size: o.hidden,
    intermediate_size: o.ffn,
    num_hidden_layers: o.layers,
    num_attention_heads: o.heads,
    num_key_value_heads: o.kvHeads,
    max_position_embeddings: o.maxPositions,
    rms_norm_eps: 1e-6,
    rope_theta: 10000,
    tie_word_embeddings: o.tieWordEmbeddings ?? false,
    bos_token_id: 1,
    eos_token_id: 2,
  };
  // The same validation as any downloaded config: bad sizes (heads not dividing hidden...) name the option's field.
  return parseLlamaConfig(json, '(init-model options)');
}

/** Seeded weights for `config`, by Hugging Face name; each tensor draws from its own stream keyed by its name. */
export function initWeights(config: LlamaConfig, seed: number): Map<string, HostTensor> {
  const out = new Map<string, HostTensor>();
  for (const [name, shape] of expectedWeightShapes(config)) {
    if (name === 'lm_head.weight' && config.tieWordEmbeddings) continue;
    const data = new Float32Array(elementCount(shape));
    if (name.endsWith('norm.weight')) data.fill(1);
    else if (!name.endsWith('.bias')) fillNormal(data, INITIALIZER_RANGE, streamSeed(seed, name));
    out.set(name, { shape, data });
  }
  return out;
}

/**
 * Writes the model directory. Files are built in a sibling temporary directory and renamed into place,
 * so an interrupted run leaves either nothing or a complete model.
 */
export function initModel(dir: string, o: InitModelOptions): { config: LlamaConfig; tokenizerVocab: number } {
  if (existsSync(dir) && readdirSync(dir).length > 0) {
    throw new FtcError('E_INIT_MODEL_EXISTS', `${dir} already exists and is not empty`, { file: dir },
      'pass --if-missing to keep an existing model, or choose another directory');
  }
  const config: LlamaConfig = { ...initModelConfig(o), storedDtype: o.dtype === 'f16' ? 'float16' : 'float32' };
  const tokenizer = trainBpeTokenizer(o.corpus, { vocabSize: o.vocab });
  const tmp = join(dirname(dir), `.${basename(dir)}.tmp-${process.pid}`);
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true });
  try {
    writeFileSync(join(tmp, 'config.json'), JSON.stringify(llamaConfigToJson(config), null, 2) + '\n');
    writeFileSync(join(tmp, 'generation_config.json'), JSON.stringify({
      _from_model_config: true, bos_token_id: config.bosTokenId, eos_token_id: config.eosTokenId,
    }, null, 2) + '\n');
    const dtype = o.dtype === 'f16' ? 'F16' : 'F32';
    const tensors = new Map([...initWeights(config, o.seed)].map(([n, t]) => [n, { ...t, dtype }] as const));
    writeSafetensors(join(tmp, 'model.safetensors'), tensors, { format: 'pt' });
    writeFileSync(join(tmp, 'tokenizer.json'), tokenizer);
    writeFileSync(join(tmp, 'tokenizer_config.json'), tokenizerConfigJson(o.maxPositions));
    writeFileSync(join(tmp, 'special_tokens_map.json'), specialTokensMapJson());
    if (existsSync(dir)) rmdirSync(dir); // empty, checked above
    renameSync(tmp, dir);
  } catch (e) {
    rmSync(tmp, { recursive: true, force: true });
    throw e;
  }
  // A small corpus can run out of pairs to merge before the vocabulary is full: ids past the tokenizer's are then never used.
  return { config, tokenizerVocab: Object.keys((JSON.parse(tokenizer) as { model: { vocab: object } }).model.vocab).length };
}

/**
 * The texts of a corpus file: every string field of each record of a JSON array or JSON-lines file
 * (Alpaca's instruction/input/output), or the whole file for anything else.
 */
export function readCorpusTexts(file: string): string[] {
  if (!existsSync(file)) throw new FtcError('E_INIT_MODEL_CORPUS', `corpus file not found: ${file}`, { file }, 'pass --corpus FILE with text to train the tokenizer on');
  const text = readFileSync(file, 'utf8');
  const strings = (record: unknown): string[] =>
    typeof record === 'string' ? [record]
      : record && typeof record === 'object' ? Object.values(record).filter((v): v is string => typeof v === 'string' && v.length > 0)
        : [];
  if (file.endsWith('.json')) {
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch (e) {
      throw new FtcError('E_INIT_MODEL_CORPUS', `corpus is not valid JSON: ${(e as Error).message}`, { file });
    }
    const records = Array.isArray(json) ? json : [json];
    return records.flatMap(strings);
  }
  if (file.endsWith('.jsonl')) {
    return text.split('\n').flatMap((line, i) => {
      if (line.trim() === '') return [];
      try {
        return strings(JSON.parse(line));
      } catch (e) {
        throw new FtcError('E_INIT_MODEL_CORPUS', `invalid JSON line: ${(e as Error).message}`, { file, line: i + 1 });
      }
    });
  }
  return [text];
}

// --- A small deterministic PRNG (splitmix32 seeding + xoshiro128**), so init never depends on Math.random.

/** FNV-1a of the tensor name mixed with the seed: adding a layer never changes another tensor's values. */
function streamSeed(seed: number, name: string): number {
  let h = (0x811c9dc5 ^ (seed >>> 0)) >>> 0;
  for (let i = 0; i < name.length; i++) h = Math.imul(h ^ name.charCodeAt(i), 0x01000193) >>> 0;
  return h;
}

export function xoshiro128(seed: number): () => number {
  let s = seed >>> 0;
  const splitmix = (): number => {
    s = (s + 0x9e3779b9) >>> 0;
    let z = s;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    return (z ^ (z >>> 16)) >>> 0;
  };
  let a = splitmix(), b = splitmix(), c = splitmix(), d = splitmix();
  /** Uniform in [0, 1) with 32 random bits. */
  return () => {
    const result = Math.imul(rotl(Math.imul(b, 5) >>> 0, 7), 9) >>> 0;
    const t = (b << 9) >>> 0;
    c ^= a; d ^= b; b ^= c; a ^= d; c ^= t;
    d = rotl(d, 11);
    a >>>= 0; b >>>= 0; c >>>= 0; d >>>= 0;
    return result / 4294967296;
  };
}

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}

/** Box–Muller: pairs of uniforms to pairs of standard normals, scaled by `std`. */
function fillNormal(data: Float32Array, std: number, seed: number): void {
  const uniform = xoshiro128(seed);
  for (let i = 0; i < data.length; i += 2) {
    const u1 = 1 - uniform(); // (0, 1]: log never sees 0
    const u2 = uniform();
    const radius = Math.sqrt(-2 * Math.log(u1)) * std;
    data[i] = radius * Math.cos(2 * Math.PI * u2);
    if (i + 1 < data.length) data[i + 1] = radius * Math.sin(2 * Math.PI * u2);
  }
}
