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
      // An added token is a control token when special, or when it looks like one (the converter's
      // does_token_look_special); otherwise user-defined, with SentencePiece's ▁ written as a space.
      const control = added.get(id) === true || looksSpecial(t);
      tokens.push(added.has(id) && !control ? t.replaceAll('\u2581', ' ') : t);
      types.push(added.has(id) ? (control ? TokenType.CONTROL : TokenType.USER_DEFINED) : TokenType.NORMAL);
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

  // What to add around a sequence: tokenizer_config's add_*_token when it says, else what tokenizer.json's
  // post-processor does (gguf-py's SpecialVocab, which the converter uses, reads them the same way). Where
  // neither says, the converter leaves add_bos/add_eos out; ftc writes false, what the tokenizer does.
  const tpl = templateSpecials(tok);
  const flag = (field: string, fallback: boolean | undefined): boolean | undefined => (typeof tokenCfg[field] === 'boolean' ? (tokenCfg[field] as boolean) : fallback);
  const tokenText = (field: string): string | undefined => { const id = idOf(field); return id === undefined ? undefined : tokens[id]; };
  const bos = tokenText('bos_token') ?? (config.bosTokenId === undefined ? undefined : tokens[config.bosTokenId]);
  const eos = tokenText('eos_token') ?? (config.eosTokenId === undefined ? undefined : tokens[config.eosTokenId]);
  const sep = tokenText('sep_token');
  const addBos = flag('add_bos_token', tpl.first !== undefined ? tpl.first === bos : false)!;
  const addEos = flag('add_eos_token', tpl.last !== undefined ? tpl.last === eos : false)!;
  const between = tpl.between;
  const isSep = (t: string | undefined) => t !== undefined && (t === sep || t === eos);
  const addSep = flag('add_sep_token', between === undefined ? undefined
    : (isSep(between[0]) && tpl.last === undefined) || (between.length === 2 && isSep(between[1])));
  kv.set('tokenizer.ggml.add_bos_token', { type: 'bool', value: addBos });
  if (addSep !== undefined) kv.set('tokenizer.ggml.add_sep_token', { type: 'bool', value: addSep });
  kv.set('tokenizer.ggml.add_eos_token', { type: 'bool', value: addEos });
  // The converter's Llama path copies tokenizer_config's add_prefix_space when it is set.
  if (typeof tokenCfg.add_prefix_space === 'boolean') kv.set('tokenizer.ggml.add_space_prefix', { type: 'bool', value: tokenCfg.add_prefix_space });

  const template = chatTemplate(tokenCfg.chat_template);
  if (template !== undefined) kv.set('tokenizer.chat_template', { type: 'string', value: template });
  return kv;
}

/** Added tokens some models forget to mark special (<pad>, <|im_start|>, <｜begin▁of▁sentence｜>, <unused0>). */
function looksSpecial(t: string): boolean {
  return ['<pad>', '<mask>', '<2mass>', '[@BOS@]'].includes(t) || (t.startsWith('<|') && t.endsWith('|>'))
    || (t.startsWith('<\uff5c') && t.endsWith('\uff5c>')) || (t.startsWith('<unused') && t.endsWith('>'));
}

type TemplatePiece = { SpecialToken?: { id?: string }; Sequence?: { id?: string } };

/**
 * The special tokens tokenizer.json's TemplateProcessing puts around one sequence (first, last) and, for a
 * pair, between A and B once the single sequence's first/last are taken off its ends (`<s> A </s> </s> B </s>`
 * → between = ["</s>", "</s>"]); undefined where the template has none.
 */
function templateSpecials(tok: TokenizerJson): { first?: string; last?: string; between?: (string | undefined)[] } {
  const pp = tok.post_processor as { type?: string; single?: TemplatePiece[]; pair?: TemplatePiece[] } | null | undefined;
  if (pp?.type !== 'TemplateProcessing') return {};
  const single = pp.single ?? [];
  const first = single.length > 1 ? single[0]!.SpecialToken?.id : undefined;
  const last = single.length > 1 ? single[single.length - 1]!.SpecialToken?.id : undefined;
  let pair = pp.pair ?? [];
  if (first !== undefined && pair[0]?.SpecialToken?.id === first) pair = pair.slice(1);
  if (last !== undefined && pair[pair.length - 1]?.SpecialToken?.id === last) pair = pair.slice(0, -1);
  const between = pair.length > 2 && pair[0]!.Sequence?.id === 'A' && pair[pair.length - 1]!.Sequence?.id === 'B'
    ? pair.slice(1, -1).map((p) => p.SpecialToken?.id) : undefined;
  return { first, last, between };
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
