import { readFileSync } from 'node:fs';
import { FtcError } from '../errors.js';
import type { LlamaConfig } from './config.js';

/**
 * The vocabulary size of a tokenizer.json as Hugging Face tokenizers' `get_vocab_size(true)` counts it:
 * the distinct token strings of the model's vocabulary and the added tokens together (OpenLLaMA's
 * 32,000 pieces plus an added <pad> are 32,001). Undefined when the file has no vocabulary ftc can read
 * without the tokenizers library; the tokenizer stage then finds out at run time.
 */
export function tokenizerJsonVocabSize(json: unknown): number | undefined {
  if (!json || typeof json !== 'object') return undefined;
  const t = json as { model?: { vocab?: unknown }; added_tokens?: unknown };
  const vocab = t.model?.vocab;
  const tokens = new Set<string>();
  if (Array.isArray(vocab)) {
    // Unigram: [[piece, score], ...]
    for (const e of vocab) if (Array.isArray(e) && typeof e[0] === 'string') tokens.add(e[0]);
  } else if (vocab && typeof vocab === 'object') {
    for (const k of Object.keys(vocab)) tokens.add(k);
  } else {
    return undefined;
  }
  if (Array.isArray(t.added_tokens)) for (const a of t.added_tokens) if (a && typeof a.content === 'string') tokens.add(a.content);
  return tokens.size;
}

/** tokenizerJsonVocabSize of a file; undefined when it cannot be read or parsed (the tokenizer stage reports that). */
export function readTokenizerVocabSize(file: string): number | undefined {
  try {
    return tokenizerJsonVocabSize(JSON.parse(readFileSync(file, 'utf8')));
  } catch {
    return undefined;
  }
}

/**
 * A tokenizer whose ids run past the model's embedding table cannot feed it. Returns the FtcError
 * (E_TOKENIZER_MODEL_MISMATCH) to raise, or undefined when the two fit; `ftc check` reports the same code.
 */
export function tokenizerModelMismatch(tokenizerVocab: number, config: Pick<LlamaConfig, 'vocabSize'>, names: { tokenizer: string; model: string; file?: string }): FtcError | undefined {
  if (tokenizerVocab <= config.vocabSize) return undefined;
  return new FtcError('E_TOKENIZER_MODEL_MISMATCH',
    `the tokenizer ${names.tokenizer} has ${tokenizerVocab} tokens but the model ${names.model} has an embedding table of ${config.vocabSize}`,
    names.file ? { file: names.file } : undefined, "use the model's own tokenizer.json (vocab = \"<model dir>/tokenizer.json\")");
}
