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

/**
 * BOS/EOS/PAD of a tokenizer. A tokenizer_config.json beside tokenizer.json decides when it
 * names them (null means "none", as Qwen's bos_token is); otherwise the well-known names are
 * looked up in the vocabulary. PAD falls back to EOS, as most fine-tuning recipes do.
 */
export function findSpecialTokens(tokenizer: Tokenizer, tokenizerFile?: string): SpecialTokens {
  let config: Record<string, unknown> = {};
  const configFile = tokenizerFile && join(dirname(tokenizerFile), 'tokenizer_config.json');
  if (configFile && existsSync(configFile)) {
    try {
      config = JSON.parse(readFileSync(configFile, 'utf8')) as Record<string, unknown>;
    } catch {
      config = {}; // an unreadable config is not ours to judge here: fall back to the names
    }
  }
  const pick = (key: string, names: string[]): SpecialToken | undefined => {
    const configured = configText(config[key]);
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
