import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { Tokenizer } from 'tokenizers';

export interface SpecialToken {
  text: string;
  id: number;
}

export interface SpecialTokens {
  bos?: SpecialToken;
  eos?: SpecialToken;
  pad?: SpecialToken;
}

/** What transformers' `tokenizer(text)` puts around a text (add_special_tokens=True). */
export interface AddedSpecials {
  /** Before the text (BOS, CLS). */
  prefix: number[];
  /** After the text (EOS, SEP). */
  suffix: number[];
}

function configsBeside(tokenizerFile: string | undefined): { config: Record<string, unknown>; named: (key: string) => string | null | undefined } {
  const dir = tokenizerFile && dirname(tokenizerFile);
  const config = readJson(dir && join(dir, 'tokenizer_config.json'));
  const map = readJson(dir && join(dir, 'special_tokens_map.json'));
  return { config, named: (key) => (key in config ? configText(config[key]) : configText(map[key])) };
}

// Names used by the common model families, tried in order when no tokenizer_config.json says.
const BOS_NAMES = ['<s>', '<|begin_of_text|>', '<bos>', '<|startoftext|>', '[BOS]'];
const EOS_NAMES = ['</s>', '<|end_of_text|>', '<|endoftext|>', '<eos>', '[EOS]'];
const PAD_NAMES = ['<pad>', '<|pad|>', '[PAD]', '<|finetune_right_pad_id|>'];

function configText(v: unknown): string | null | undefined {
  if (v === null) return null;
  if (typeof v === 'string') return v;
  if (v && typeof v === 'object' && typeof (v as { content?: unknown }).content === 'string') return (v as { content: string }).content;
  return undefined;
}

function readJson(file: string | undefined): Record<string, unknown> {
  if (!file || !existsSync(file)) return {};
  try {
    const v = JSON.parse(readFileSync(file, 'utf8')) as unknown;
    return v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
  } catch {
    return {}; // an unreadable config is not ours to judge here: fall back to the names
  }
}

/**
 * BOS/EOS/PAD of a tokenizer and the special tokens it adds around a text. tokenizer_config.json
 * (then special_tokens_map.json) beside tokenizer.json decides when it names them (null means
 * "none", as Qwen's bos_token is); otherwise the well-known names are looked up in the vocabulary.
 * PAD falls back to EOS, as most fine-tuning recipes do.
 */
export function findSpecialTokens(tokenizer: Tokenizer, tokenizerFile?: string): SpecialTokens {
  const { named } = configsBeside(tokenizerFile);
  const pick = (key: string, names: string[]): SpecialToken | undefined => {
    const configured = named(key);
    if (configured === null) return undefined;
    for (const text of configured !== undefined ? [configured] : names) {
      const id = tokenizer.tokenToId(text);
      if (id !== null && id !== undefined) return { text, id };
    }
    return undefined;
  };
  const eos = pick('eos_token', EOS_NAMES);
  return { bos: pick('bos_token', BOS_NAMES), eos, pad: pick('pad_token', PAD_NAMES) ?? eos };
}

/**
 * The special tokens transformers' fast tokenizer (TokenizersBackend, transformers 5) adds around a
 * single text. When tokenizer_config.json sets add_bos_token or add_eos_token (either), transformers
 * replaces the post-processor by `[bos] $A [eos]` with each flag (a missing one is false) and the
 * configured bos_token/eos_token; a tokenizer.json without a post-processor gets that template with
 * both flags false (nothing). Otherwise the tokenizer.json's post-processor decides: found by
 * encoding a probe with and without special tokens.
 */
export async function addedSpecials(tokenizer: Tokenizer, tokenizerJson: Record<string, unknown>, tokenizerFile?: string): Promise<AddedSpecials> {
  const { config, named } = configsBeside(tokenizerFile);
  const explicit = 'add_bos_token' in config || 'add_eos_token' in config;
  if (explicit || tokenizerJson.post_processor == null) {
    const id = (key: string): number[] => {
      const text = named(key);
      const found = typeof text === 'string' ? tokenizer.tokenToId(text) : undefined;
      return found === null || found === undefined ? [] : [found];
    };
    return { prefix: config.add_bos_token === true ? id('bos_token') : [], suffix: config.add_eos_token === true ? id('eos_token') : [] };
  }
  return probeSpecials(tokenizer);
}

/** Encodes a probe with and without special tokens; what the first adds around the second. */
async function probeSpecials(tokenizer: Tokenizer): Promise<AddedSpecials> {
  const plain = (await tokenizer.encode('a', null, { addSpecialTokens: false })).getIds();
  const full = (await tokenizer.encode('a', null, { addSpecialTokens: true })).getIds();
  for (let k = 0; k + plain.length <= full.length; k++) {
    if (plain.every((v, i) => full[k + i] === v)) return { prefix: full.slice(0, k), suffix: full.slice(k + plain.length) };
  }
  return { prefix: [], suffix: [] };
}
