import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { FtcError } from '../../errors.js';
import { exportModel, type ExportFormat } from '../export/export-model.js';
import type { GgufDtype } from '../export/gguf.js';
import type { StageContext, StageImpl, StageSummary } from '../stage.js';

interface ExportParams {
  model: string;
  format: ExportFormat;
  dtype: GgufDtype;
  output: string;
}

/**
 * Exports the trainer's adapter. The base model is the one the adapter records in adapter_config.json's
 * base_model_name_or_path: the trainer writes the model stage's directory there (absolute; an adapter from
 * before that holds it relative to the pipeline's directory), exactly as PEFT records the model an adapter was trained on. The model stage's cache key is
 * upstream of the trainer's, so a changed base model already changes this stage's key.
 *
 * The artifact is the exported files (`model.gguf` for gguf); the executor copies it to `output`.
 */
export const exportStage: StageImpl = {
  kind: 'export',
  version: 1,
  async run(ctx: StageContext): Promise<StageSummary> {
    const p = ctx.stage.params as unknown as ExportParams;
    const trainer = ctx.inputs[p.model];
    if (!trainer) throw new Error(`stage ${ctx.stage.name}: its trainer input ${p.model} was not provided by the executor`);
    const adapterDir = trainer.dir;
    const cfgFile = join(adapterDir, 'adapter_config.json');
    // Full fine-tuning's trainer output is a whole model in HF layout: exported as it is, in the dtype asked for.
    if (!existsSync(cfgFile) && existsSync(join(adapterDir, 'config.json'))) return exportWhole(ctx, p, adapterDir);
    if (!existsSync(cfgFile)) {
      throw new FtcError('E_EXPORT_NO_ADAPTER', `export ${ctx.stage.name}: stage ${p.model} produced no adapter (no adapter_config.json)`, { file: ctx.pipeline.file },
        'point the export stage\'s model at a trainer stage');
    }
    const base = (JSON.parse(readFileSync(cfgFile, 'utf8')) as { base_model_name_or_path?: unknown }).base_model_name_or_path;
    if (typeof base !== 'string' || base === '') {
      throw new FtcError('E_EXPORT_NO_BASE_MODEL', `the adapter of stage ${p.model} does not name its base model (base_model_name_or_path)`, { file: cfgFile });
    }
    if (p.format === 'merged' && p.dtype === 'q8_0') {
      throw new FtcError('E_EXPORT_DTYPE', `export ${ctx.stage.name}: dtype q8_0 is only for format gguf`, { file: ctx.pipeline.file },
        'use dtype = f32, f16 or bf16 for merged weights');
    }
    const modelDir = resolve(ctx.pipeline.dir, base);
    const started = performance.now();
    const result = exportModel({ modelDir, adapterDir, format: p.format, dtype: p.dtype, outDir: ctx.outDir, name: ctx.pipeline.name });
    for (const w of result.warnings) ctx.log.warn(w);
    ctx.log.info(`${p.format}${p.format === 'peft' ? '' : ` ${p.dtype}`}: ${result.files.join(', ')}` +
      (result.merged ? ` (${result.merged} LoRA modules merged)` : '') + ` in ${((performance.now() - started) / 1000).toFixed(1)}s`);
    return {
      format: p.format,
      ...(p.format === 'peft' ? {} : { dtype: p.dtype, merged_modules: result.merged }),
      ...(result.bytes !== undefined ? { bytes: result.bytes } : {}),
    };
  },
};

function exportWhole(ctx: StageContext, p: ExportParams, modelDir: string): StageSummary {
  if (p.format === 'peft') {
    throw new FtcError('E_EXPORT_NO_ADAPTER', `export ${ctx.stage.name}: trainer ${p.model} fine-tuned the whole model, so there is no adapter to export as peft`,
      { file: ctx.pipeline.file }, 'use format = merged (Hugging Face layout) or gguf');
  }
  if (p.format === 'merged' && p.dtype === 'q8_0') {
    throw new FtcError('E_EXPORT_DTYPE', `export ${ctx.stage.name}: dtype q8_0 is only for format gguf`, { file: ctx.pipeline.file }, 'use dtype = f32, f16 or bf16 for merged weights');
  }
  const result = exportModel({ modelDir, format: p.format, dtype: p.dtype, outDir: ctx.outDir, name: ctx.pipeline.name });
  ctx.log.info(`${p.format} ${p.dtype}: ${result.files.join(', ')} (the fully fine-tuned model)`);
  return { format: p.format, dtype: p.dtype, ...(result.bytes !== undefined ? { bytes: result.bytes } : {}) };
}
