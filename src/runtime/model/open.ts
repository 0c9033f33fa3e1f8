import { join } from 'node:path';
import type { Tokenizer } from 'tokenizers';
import { FtcError } from '../../errors.js';
import { tokenizerModelMismatch } from '../../model-spec/tokenizer.js';
import { initBackend, type BackendPreference } from '../backend.js';
import { loadTokenizerFile } from '../tokenize/load.js';
import { loadCausalLM, type LlamaCausalLM } from './causal-lm.js';

/** What `ftc generate` and `ftc score` run on: a model directory, an optional adapter, a backend. */
export interface ModelArgs {
  model?: string;
  adapter?: string;
  backend?: BackendPreference;
}

/** Loads backend, model (with adapter) and the model directory's tokenizer.json. */
export async function openModel(args: ModelArgs, needTokenizer: boolean): Promise<{ model: LlamaCausalLM; tokenizer?: Tokenizer }> {
  if (!args.model) throw new FtcError('E_USAGE', 'no model given', undefined, 'pass --model DIR or a pipeline file with a model stage');
  await initBackend(args.backend ?? 'auto');
  const model = loadCausalLM(args.model, { adapterDir: args.adapter });
  if (!needTokenizer) return { model };
  const file = join(args.model, 'tokenizer.json');
  const { tokenizer } = loadTokenizerFile(file, file);
  const mismatch = tokenizerModelMismatch(tokenizer.getVocabSize(true), model.config, { tokenizer: file, model: args.model, file });
  if (mismatch) {
    model.dispose();
    throw mismatch;
  }
  return { model, tokenizer };
}

/** `--ids "1 2 3"` → ids, each within the vocabulary. */
export function parseIds(text: string, vocabSize: number): number[] {
  const parts = text.trim().split(/[\s,]+/).filter((p) => p !== '');
  const ids = parts.map(Number);
  const bad = parts.find((p, i) => !/^\d+$/.test(p) || ids[i] >= vocabSize);
  if (bad !== undefined) throw new FtcError('E_USAGE', `--ids: "${bad}" is not a token id below the vocabulary size ${vocabSize}`);
  return ids;
}
