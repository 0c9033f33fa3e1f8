import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Tokenizer } from 'tokenizers';
import { FtcError } from '../../errors.js';
import { compileFile } from '../../compiler/index.js';
import { initBackend, type BackendPreference } from '../backend.js';
import { loadTokenizerFile } from '../tokenize/load.js';
import { loadCausalLM, type LlamaCausalLM } from './causal-lm.js';

/** What `ftc generate` and `ftc score` run on: a model directory, an optional adapter, a backend. */
export interface ModelArgs {
  model?: string;
  adapter?: string;
  backend?: BackendPreference;
}

/**
 * Resolves a pipeline file to its model directory (the model stage's path) and adapter (the trainer's
 * output directory, once it holds an adapter). Explicit --model/--adapter win over the pipeline.
 */
export function argsFromPipeline(file: string, explicit: ModelArgs): ModelArgs {
  const { ir, diagnostics } = compileFile(file, { checkFiles: false });
  if (!ir) {
    const first = diagnostics.find((d) => d.severity === 'error');
    throw new FtcError('E_PIPELINE_INVALID', `${file} has errors${first ? `: ${first.message}` : ''}`, { file, line: first?.line, column: first?.column },
      `run \`ftc check ${file}\` for every problem`);
  }
  const modelStage = ir.stages.find((s) => s.kind === 'model');
  const trainer = ir.stages.find((s) => s.kind === 'trainer');
  const model = explicit.model ?? (modelStage ? resolve(ir.dir, String(modelStage.params.path)) : undefined);
  let adapter = explicit.adapter;
  if (!adapter && trainer?.params.output !== undefined) {
    const out = resolve(ir.dir, String(trainer.params.output));
    if (existsSync(join(out, 'adapter_config.json'))) adapter = out;
    else process.stderr.write(`warning: ${out} holds no trained adapter yet (run \`ftc run ${file}\`); using the base model\n`);
  }
  return { ...explicit, model, adapter };
}

/** Loads backend, model (with adapter) and the model directory's tokenizer.json. */
export async function openModel(args: ModelArgs, needTokenizer: boolean): Promise<{ model: LlamaCausalLM; tokenizer?: Tokenizer }> {
  if (!args.model) throw new FtcError('E_USAGE', 'no model given', undefined, 'pass --model DIR or a pipeline file with a model stage');
  await initBackend(args.backend ?? 'auto');
  const model = loadCausalLM(args.model, { adapterDir: args.adapter });
  if (!needTokenizer) return { model };
  const file = join(args.model, 'tokenizer.json');
  const { tokenizer } = loadTokenizerFile(file, file);
  const vocab = tokenizer.getVocabSize(true);
  if (vocab > model.config.vocabSize) {
    model.dispose();
    throw new FtcError('E_TOKENIZER_VOCAB_MISMATCH', `the tokenizer has ${vocab} tokens but the model's vocabulary holds ${model.config.vocabSize}`, { file },
      'use the tokenizer.json that belongs to this model');
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
