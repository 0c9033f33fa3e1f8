import { copyFileSync, mkdirSync } from 'node:fs';
import { basename, join } from 'node:path';
import { FtcError } from '../../errors.js';
import { loadLlamaConfig } from '../../model-spec/config.js';
import { loadAdapter } from '../model/peft.js';
import { loadWeights } from '../model/weights.js';
import { type GgufDtype, writeModelGguf } from './gguf.js';
import { type HfDtype, writeMergedHf } from './hf.js';
import { mergeAdapter } from './merge.js';
import { dequantizeWeightMap } from '../quant/base-4bit.js';

export type ExportFormat = 'peft' | 'merged' | 'gguf';

export interface ExportRequest {
  /** Base model directory (Hugging Face layout). */
  modelDir: string;
  /** PEFT adapter directory; absent for a model that is complete as it is (the output of full fine-tuning). */
  adapterDir?: string;
  format: ExportFormat;
  dtype: GgufDtype;
  /** Directory to write into; the caller makes the write atomic (a cache temp dir, or a renamed sibling). */
  outDir: string;
  /** general.name in a GGUF file (default: the model directory's name). */
  name?: string;
}

export interface ExportResult {
  files: string[];
  /** LoRA modules folded into base weights (merged, gguf). */
  merged: number;
  bytes?: number;
  warnings: string[];
}

/** The file name a GGUF export gets inside its directory. */
export const GGUF_FILE = 'model.gguf';

/**
 * Exports an adapter trained on `modelDir`: as it is (peft), folded into the base weights in Hugging Face
 * layout (merged), or folded and written as one GGUF file (gguf). The adapter is checked against the
 * base model's config first, so an adapter for another model is an error naming the mismatch. Without an
 * adapter (a fully fine-tuned model) the model's own weights are written, in the dtype asked for.
 */
export function exportModel(req: ExportRequest): ExportResult {
  const config = loadLlamaConfig(req.modelDir);
  const adapter = req.adapterDir === undefined ? undefined : loadAdapter(req.adapterDir, config);
  const warnings: string[] = [];
  mkdirSync(req.outDir, { recursive: true });

  if (req.format === 'peft' && !req.adapterDir) {
    throw new FtcError('E_EXPORT_NO_ADAPTER', `${req.modelDir} is a complete model (full fine-tuning), with no adapter to export as peft`, { file: req.modelDir },
      'use format merged (Hugging Face layout) or gguf');
  }
  if (req.format === 'peft' && req.adapterDir) {
    // dtype does not apply: the adapter is copied as trained (float32), as PEFT itself saves it.
    const files = ['adapter_config.json', 'adapter_model.safetensors'];
    for (const f of files) copyFileSync(join(req.adapterDir, f), join(req.outDir, f));
    return { files, merged: 0, warnings };
  }
  if (req.format === 'merged' && req.dtype === 'q8_0') {
    throw new FtcError('E_EXPORT_DTYPE', 'dtype q8_0 is only for format gguf', undefined, 'use dtype f32, f16 or bf16 for merged weights, or format gguf for q8_0');
  }

  const base = loadWeights(req.modelDir, config);
  // A QLoRA adapter was trained on the 4-bit base: it merges into that base dequantized, as PEFT's merge on a
  // 4-bit model adds the delta to dequantize(W) (PEFT then re-quantizes; ftc writes the merged weights unquantized).
  if (adapter?.config.quantization) dequantizeWeightMap(base, config, adapter.config.quantization);
  const { weights, merged } = adapter ? mergeAdapter(base, adapter) : { weights: base, merged: 0 };
  if (req.format === 'merged') {
    return { files: writeMergedHf(req.outDir, { modelDir: req.modelDir, weights, dtype: req.dtype as HfDtype }), merged, warnings };
  }
  const bytes = writeModelGguf(join(req.outDir, GGUF_FILE), {
    config, weights, modelDir: req.modelDir, dtype: req.dtype, name: req.name ?? basename(req.modelDir),
  });
  return { files: [GGUF_FILE], merged, bytes, warnings };
}
