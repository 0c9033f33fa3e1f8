import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Tokenizer } from 'tokenizers';
import { FtcError } from '../../errors.js';
import type { LlamaConfig } from '../../model-spec/config.js';
import { tokenizerModelMismatch } from '../../model-spec/tokenizer.js';
import { initBackend, type BackendPreference } from '../backend.js';
import { loadTokenizerFile } from '../tokenize/load.js';
import { findSpecialTokens } from '../tokenize/specials.js';
import { loadCausalLM, type LlamaCausalLM } from './causal-lm.js';

/** What `ftc generate` and `ftc score` run on: a model directory, an optional adapter, a backend. */
export interface ModelArgs {
  model?: string;
  adapter?: string;
  backend?: BackendPreference;
  /** A QLoRA adapter's base already quantized (the lora stage's cached base-4bit.safetensors); else quantized at load. */
  quantizedBase?: string;
}

/** Loads backend, model (with adapter) and the model directory's tokenizer.json. */
export async function openModel(args: ModelArgs, needTokenizer: boolean): Promise<{ model: LlamaCausalLM; tokenizer?: Tokenizer; stopTokens: number[] }> {
  if (!args.model) throw new FtcError('E_USAGE', 'no model given', undefined, 'pass --model DIR or a pipeline file with a model stage');
  await initBackend(args.backend ?? 'auto');
  const model = loadCausalLM(args.model, { adapterDir: args.adapter, quantizedBase: args.quantizedBase });
  if (!needTokenizer) return { model, stopTokens: stopTokenIds(args.model, model.config) };
  const file = join(args.model, 'tokenizer.json');
  const { tokenizer } = loadTokenizerFile(file, file);
  const mismatch = tokenizerModelMismatch(tokenizer.getVocabSize(true), model.config, { tokenizer: file, model: args.model, file });
  if (mismatch) {
    model.dispose();
    throw mismatch;
  }
  return { model, tokenizer, stopTokens: stopTokenIds(args.model, model.config, findSpecialTokens(tokenizer, file).eos?.id) };
}

/**
 * The ids generation stops on, picked as transformers' generate picks them: generation_config.json's
 * `eos_token_id` where that file names one (Llama 3's lists three), else config.json's. Where neither names any
 * (Qwen2 configs may hold null), transformers would run to max_new_tokens; ftc stops on the tokenizer's EOS,
 * the token its training data ends examples with, instead.
 */
export function stopTokenIds(dir: string, config: LlamaConfig, tokenizerEos?: number): number[] {
  const file = join(dir, 'generation_config.json');
  if (existsSync(file)) {
    let json: unknown;
    try {
      json = JSON.parse(readFileSync(file, 'utf8'));
    } catch (e) {
      throw new FtcError('E_MODEL_CONFIG_INVALID', `generation_config.json is not valid JSON: ${(e as Error).message}`, { file },
        'fix or delete the file (transformers would refuse it too)');
    }
    const v = json && typeof json === 'object' ? (json as Record<string, unknown>).eos_token_id : undefined;
    const ids = (Array.isArray(v) ? v : [v]).filter((x): x is number => Number.isInteger(x) && (x as number) >= 0 && (x as number) < config.vocabSize);
    if (ids.length > 0) return ids;
  }
  if (config.eosTokenIds.length > 0) return config.eosTokenIds;
  return tokenizerEos === undefined ? [] : [tokenizerEos];
}

/** `--ids "1 2 3"` → ids, each within the vocabulary. */
export function parseIds(text: string, vocabSize: number): number[] {
  const parts = text.trim().split(/[\s,]+/).filter((p) => p !== '');
  const ids = parts.map(Number);
  const bad = parts.find((p, i) => !/^\d+$/.test(p) || ids[i] >= vocabSize);
  if (bad !== undefined) throw new FtcError('E_USAGE', `--ids: "${bad}" is not a token id below the vocabulary size ${vocabSize}`);
  return ids;
}
