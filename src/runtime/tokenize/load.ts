import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { FtcError } from '../../errors.js';
import { trainBpeTokenizer } from './bpe.js';
import { findSpecialTokens, type SpecialTokens } from './specials.js';
import type { Tokenizer } from 'tokenizers';

// The tokenizers package is CommonJS (napi); require keeps its named classes intact.
const require = createRequire(import.meta.url);
const { Tokenizer: TokenizerClass } = require('tokenizers') as typeof import('tokenizers');

export interface LoadedTokenizer {
  tokenizer: Tokenizer;
  /** The tokenizer.json text, copied into the artifact and hashed into meta.json. */
  json: string;
  sha256: string;
  specials: SpecialTokens;
  /** Where it was loaded from (its tokenizer_config.json lies beside it); undefined when trained. */
  file?: string;
}

/** Loads a Hugging Face tokenizer.json; a broken file is the user's to fix, so an FtcError. */
export function loadTokenizerFile(file: string, display: string): LoadedTokenizer {
  if (!existsSync(file)) throw new FtcError('E_TOKENIZER_NOT_FOUND', `tokenizer file not found: ${display}`, { file: display }, 'paths are relative to the pipeline file');
  const json = readFileSync(file, 'utf8');
  let tokenizer: Tokenizer;
  try {
    tokenizer = TokenizerClass.fromString(json);
  } catch (e) {
    throw new FtcError('E_TOKENIZER_INVALID', `${display} is not a tokenizer.json the tokenizers library can load: ${(e as Error).message}`, { file: display });
  }
  withoutSavedLimits(tokenizer);
  return { tokenizer, json, sha256: sha256(json), specials: findSpecialTokens(tokenizer, file), file };
}

/** Trains a byte-level BPE tokenizer on the given texts (src/runtime/tokenize/bpe.ts). */
export function trainTokenizer(texts: string[], vocabSize: number, minFrequency: number): LoadedTokenizer {
  let json: string;
  try {
    json = trainBpeTokenizer(texts, { vocabSize, minFrequency });
  } catch (e) {
    if (e instanceof RangeError) throw new FtcError('E_TOKENIZER_TRAIN', `cannot train the tokenizer: ${e.message}`, undefined, 'raise train.vocab_size');
    throw e;
  }
  const tokenizer = TokenizerClass.fromString(json);
  return { tokenizer, json, sha256: sha256(json), specials: findSpecialTokens(tokenizer) };
}

/** A tokenizer.json this process already loaded once (load.ts), loaded again in a worker thread, limits off as there. */
export function tokenizerFromJson(json: string): Tokenizer {
  const tokenizer = TokenizerClass.fromString(json);
  withoutSavedLimits(tokenizer);
  return tokenizer;
}

/**
 * Truncation and padding saved in a tokenizer.json are switched off: transformers' fast tokenizer
 * resets both on every call unless the call asks for them, so they never shape what it feeds a
 * model; the tokenizer stage's own max_length/truncation do that.
 */
function withoutSavedLimits(tokenizer: Tokenizer): void {
  tokenizer.disableTruncation();
  tokenizer.disablePadding();
}

function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}
