import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { FtcError } from '../../errors.js';
import type { LlamaConfig } from '../../model-spec/config.js';
import type { GgufValue } from './gguf-writer.js';

/**
 * The tokenizer part of a GGUF file, from a model directory's tokenizer.json (+ tokenizer_config.json),
 * as llama.cpp's convert_hf_to_gguf.py writes it for a byte-level BPE ("gpt2") vocabulary:
 * one token string per embedding row (rows past the tokenizer's vocabulary become `[PAD{i}]`, unused),
 * a type per token, the merges as "left right" strings, the special token ids and the chat template.
 */

/** llama.cpp's llama_token_type. */
export const TokenType = { NORMAL: 1, UNKNOWN: 2, CONTROL: 3, USER_DEFINED: 4, UNUSED: 5, BYTE: 6 } as const;

/**
 * The pre-tokenizer name llama.cpp maps to LLAMA_VOCAB_PRE_TYPE_GPT2, whose regex is GPT-2's
 * (`'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`): exactly what
 * tokenizers' ByteLevel pre-tokenizer with use_regex = true splits on.
 */
export const GPT2_PRE = 'gpt-2';

interface TokenizerJson {
  model?: { type?: string; vocab?: Record<string, number>; merges?: (string | [string, string])[]; byte_fallback?: boolean };
  added_tokens?: { id: number; content: string; special?: boolean }[];
  pre_tokenizer?: { type?: string; use_regex?: boolean; add_prefix_space?: boolean } | null;
  post_processor?: { type?: string; single?: unknown[] } | null;
}

export function ggufVocab(modelDir: string, config: LlamaConfig): Map<string, GgufValue> {
  const file = join(modelDir, 'tokenizer.json');
  if (!existsSync(file)) {
    throw new FtcError('E_EXPORT_TOKENIZER', `no tokenizer.json in ${modelDir}`, { file },
      'a GGUF file carries its tokenizer; put the model\'s tokenizer.json beside config.json');
  }
  const tok = readJson(file) as TokenizerJson;
  const unsupported = (why: string): FtcError => new FtcError('E_EXPORT_TOKENIZER', `GGUF export supports byte-level BPE tokenizers (GPT-2 style); this tokenizer.json ${why}`,
    { file }, 'export format merged works for any tokenizer; convert that directory with llama.cpp\'s convert_hf_to_gguf.py');
  const model = tok.model;
  if (model?.type !== 'BPE' || !model.vocab || !Array.isArray(model.merges)) throw unsupported(`has a ${model?.type ?? 'missing'} model`);
  if (model.byte_fallback) throw unsupported('uses byte_fallback (a SentencePiece-style vocabulary)');
  const pre = tok.pre_tokenizer;
  if (pre?.type !== 'ByteLevel' || pre.use_regex === false || pre.add_prefix_space) {
    throw unsupported(`has pre_tokenizer ${JSON.stringify(pre?.type ?? null)}; ftc maps only ByteLevel (use_regex, no prefix space) onto llama.cpp's "${GPT2_PRE}"`);
  }

  const tokenCfgFile = join(modelDir, 'tokenizer_config.json');
  const tokenCfg = existsSync(tokenCfgFile) ? (readJson(tokenCfgFile) as Record<string, unknown>) : {};

  // Tokens by id: the BPE vocabulary, then added tokens (which may also be in it).
  const byId = new Map<number, string>();
  for (const [t, id] of Object.entries(model.vocab)) byId.set(id, t);
  const added = new Map<number, boolean>();
  for (const a of tok.added_tokens ?? []) {
    byId.set(a.id, a.content);
    added.set(a.id, a.special === true);
  }
  const maxId = Math.max(...byId.keys());
  if (maxId >= config.vocabSize) {
    throw new FtcError('E_EXPORT_TOKENIZER', `tokenizer.json has token id ${maxId} but the model's vocab_size is ${config.vocabSize}`, { file },
      'use the tokenizer.json that belongs to this model');
  }
  const tokens: string[] = [];
  const types: number[] = [];
  for (let id = 0; id < config.vocabSize; id++) {
    const t = byId.get(id);
    if (t === undefined) {
      tokens.push(`[PAD${id}]`);
      types.push(TokenType.UNUSED);
    } else {
      tokens.push(t);
      types.push(added.has(id) ? (added.get(id) ? TokenType.CONTROL : TokenType.USER_DEFINED) : TokenType.NORMAL);
    }
  }
  const merges = model.merges.map((m) => (Array.isArray(m) ? `${m[0]} ${m[1]}` : m));

  const kv = new Map<string, GgufValue>();
  kv.set('tokenizer.ggml.model', { type: 'string', value: 'gpt2' });
  kv.set('tokenizer.ggml.pre', { type: 'string', value: GPT2_PRE });
  kv.set('tokenizer.ggml.tokens', { type: 'array', itemType: 'string', value: tokens });
  kv.set('tokenizer.ggml.token_type', { type: 'array', itemType: 'i32', value: types });
  kv.set('tokenizer.ggml.merges', { type: 'array', itemType: 'string', value: merges });

  const idOf = (field: string): number | undefined => {
    const v = tokenCfg[field];
    const content = typeof v === 'string' ? v : v && typeof v === 'object' ? (v as { content?: unknown }).content : undefined;
    if (typeof content !== 'string') return undefined;
    const id = tokens.indexOf(content);
    return id >= 0 ? id : undefined;
  };
  const specials: [string, number | undefined][] = [
    ['bos', idOf('bos_token') ?? config.bosTokenId],
    ['eos', idOf('eos_token') ?? config.eosTokenId],
    ['unknown', idOf('unk_token')],
    ['padding', idOf('pad_token') ?? config.padTokenId],
  ];
  for (const [name, id] of specials) if (id !== undefined) kv.set(`tokenizer.ggml.${name}_token_id`, { type: 'u32', value: id });

  const addBos = typeof tokenCfg.add_bos_token === 'boolean' ? tokenCfg.add_bos_token : postProcessorAddsBos(tok, tokens[config.bosTokenId]);
  kv.set('tokenizer.ggml.add_bos_token', { type: 'bool', value: addBos });
  kv.set('tokenizer.ggml.add_eos_token', { type: 'bool', value: tokenCfg.add_eos_token === true });

  const template = chatTemplate(tokenCfg.chat_template);
  if (template !== undefined) kv.set('tokenizer.chat_template', { type: 'string', value: template });
  return kv;
}

/** Whether tokenizer.json's TemplateProcessing starts a single sequence with the BOS token. */
function postProcessorAddsBos(tok: TokenizerJson, bos: string | undefined): boolean {
  const first = tok.post_processor?.type === 'TemplateProcessing' ? tok.post_processor.single?.[0] : undefined;
  return (first as { SpecialToken?: { id?: string } } | undefined)?.SpecialToken?.id === bos && bos !== undefined;
}

/** transformers stores one template as a string, or several as [{name, template}] ("default" is the chat one). */
function chatTemplate(v: unknown): string | undefined {
  if (typeof v === 'string') return v;
  if (Array.isArray(v)) {
    const t = v.find((x) => x && typeof x === 'object' && (x as { name?: unknown }).name === 'default') as { template?: unknown } | undefined;
    return typeof t?.template === 'string' ? t.template : undefined;
  }
  return undefined;
}

function readJson(file: string): unknown {
  try {
    return JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    throw new FtcError('E_EXPORT_TOKENIZER', `${file} is not valid JSON: ${(e as Error).message}`, { file });
  }
}
