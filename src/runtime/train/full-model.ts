import { join } from 'node:path';
import type { LlamaConfig } from '../../model-spec/config.js';
import { expectedWeightShapes, isOptionalWeight } from '../../model-spec/modules.js';
import { writeMergedHf } from '../export/hf.js';
import type { WeightMap } from '../model/api.js';
import { readSafetensors, writeSafetensors } from '../model/safetensors.js';
import { locateWeights } from '../model/weights.js';
import type { AdapterFiles } from './checkpoint.js';

/**
 * What full fine-tuning writes. The result is a plain Hugging Face model directory (config.json, model.safetensors
 * or its shards, the base's tokenizer files), so transformers, `ftc generate --model` and `ftc export` read it as
 * they read any model. Everything is float32, the dtype it trained in; a weight train_modules left frozen is
 * the base's own values, widened to float32 exactly.
 */

/** The trained tensors of a checkpoint step, by Hugging Face name, in one float32 safetensors file. */
export const CHECKPOINT_WEIGHTS = 'model.safetensors';

/** Checkpoints of full fine-tuning hold the trained weights only (the frozen rest is the base model's). */
export function fullModelFiles(): AdapterFiles {
  return {
    save: (dir, tensors) => writeSafetensors(join(dir, CHECKPOINT_WEIGHTS), new Map([...tensors].map(([k, t]) => [k, { ...t, dtype: 'F32' as const }])), { format: 'pt' }),
    load: (dir) => readSafetensors(join(dir, CHECKPOINT_WEIGHTS)),
  };
}

/**
 * The whole model into `outDir`: the trained weights as trained, every other weight the config needs read
 * back from the base directory (the device copy is not read back: it holds the same values). A tied model
 * stores only model.embed_tokens.weight, as transformers saves one.
 */
export function writeFullModel(outDir: string, opts: { modelDir: string; config: LlamaConfig; trained: WeightMap; maxShardBytes?: number }): string[] {
  const names = [...expectedWeightShapes(opts.config).keys()].filter((n) => !isOptionalWeight(n, opts.config));
  const frozen = new Set(names.filter((n) => !opts.trained.has(n)));
  const weights: WeightMap = new Map();
  const byFile = new Map<string, Set<string>>();
  for (const [name, file] of locateWeights(opts.modelDir)) if (frozen.has(name)) (byFile.get(file) ?? byFile.set(file, new Set()).get(file)!).add(name);
  for (const [file, wanted] of byFile) for (const [name, t] of readSafetensors(file, { filter: (n) => wanted.has(n) })) weights.set(name, t);
  for (const [name, t] of opts.trained) weights.set(name, t);
  const ordered: WeightMap = new Map(names.filter((n) => weights.has(n)).map((n) => [n, weights.get(n)!]));
  return writeMergedHf(outDir, { modelDir: opts.modelDir, weights: ordered, dtype: 'f32', maxShardBytes: opts.maxShardBytes });
}
