import { copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { WeightMap } from '../model/api.js';
import { writeSafetensors, type WriteDtype } from '../model/safetensors.js';

/**
 * A merged model in Hugging Face layout: what `AutoModelForCausalLM.from_pretrained(dir)` and
 * `loadCausalLM(dir)` read. config.json is the base model's own, with `dtype` set to what the weights now
 * are (the name transformers 5 writes and reads, `torch_dtype` being deprecated since 4.56, so an old
 * `torch_dtype` is dropped); the tokenizer and generation files are copied as they are.
 */

export type HfDtype = 'f32' | 'f16' | 'bf16';

const SAFETENSORS_DTYPE: Record<HfDtype, WriteDtype> = { f32: 'F32', f16: 'F16', bf16: 'BF16' };
const TORCH_DTYPE: Record<HfDtype, string> = { f32: 'float32', f16: 'float16', bf16: 'bfloat16' };

/** Files carried over from the base model directory when present. */
export const COPIED_FILES = ['tokenizer.json', 'tokenizer_config.json', 'special_tokens_map.json', 'generation_config.json', 'tokenizer.model', 'chat_template.jinja'];

/** Writes the merged model into `outDir` (which the caller makes atomic: a cache temp dir or a renamed sibling). */
export function writeMergedHf(outDir: string, opts: { modelDir: string; weights: WeightMap; dtype: HfDtype }): string[] {
  mkdirSync(outDir, { recursive: true });
  const config = JSON.parse(readFileSync(join(opts.modelDir, 'config.json'), 'utf8')) as Record<string, unknown>;
  delete config.torch_dtype;
  config.dtype = TORCH_DTYPE[opts.dtype];
  writeFileSync(join(outDir, 'config.json'), JSON.stringify(config, null, 2) + '\n');
  const dtype = SAFETENSORS_DTYPE[opts.dtype];
  const tensors = new Map([...opts.weights].map(([name, t]) => [name, { ...t, dtype }] as const));
  writeSafetensors(join(outDir, 'model.safetensors'), tensors, { format: 'pt' });
  const written = ['config.json', 'model.safetensors'];
  for (const f of COPIED_FILES) {
    if (!existsSync(join(opts.modelDir, f))) continue;
    copyFileSync(join(opts.modelDir, f), join(outDir, f));
    written.push(f);
  }
  return written;
}
