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

/** transformers' save_pretrained default max_shard_size ("5GB", decimal): above it the weights are sharded. */
export const DEFAULT_MAX_SHARD_BYTES = 5e9;

/**
 * Writes a model into `outDir` (which the caller makes atomic: a cache temp dir or a renamed sibling): a merged
 * export, or the weights full fine-tuning trained. Weights over `maxShardBytes` are sharded as save_pretrained
 * shards them.
 */
export function writeMergedHf(outDir: string, opts: { modelDir: string; weights: WeightMap; dtype: HfDtype; maxShardBytes?: number }): string[] {
  mkdirSync(outDir, { recursive: true });
  const config = JSON.parse(readFileSync(join(opts.modelDir, 'config.json'), 'utf8')) as Record<string, unknown>;
  delete config.torch_dtype;
  config.dtype = TORCH_DTYPE[opts.dtype];
  writeFileSync(join(outDir, 'config.json'), JSON.stringify(config, null, 2) + '\n');
  const written = ['config.json', ...writeHfWeights(outDir, opts.weights, opts.dtype, opts.maxShardBytes ?? DEFAULT_MAX_SHARD_BYTES)];
  for (const f of COPIED_FILES) {
    if (!existsSync(join(opts.modelDir, f))) continue;
    copyFileSync(join(opts.modelDir, f), join(outDir, f));
    written.push(f);
  }
  return written;
}

/**
 * model.safetensors, or, when the weights exceed `maxShardBytes`, shards `model-0000i-of-0000n.safetensors`
 * plus `model.safetensors.index.json` ({metadata: {total_size}, weight_map}), as transformers writes them:
 * tensors in name order, a new shard whenever the next tensor would overflow the current one (a tensor larger
 * than the limit gets a shard of its own). Returns the files written.
 */
export function writeHfWeights(outDir: string, weights: WeightMap, dtype: HfDtype, maxShardBytes: number): string[] {
  const st = SAFETENSORS_DTYPE[dtype];
  const bytesPer = dtype === 'f32' ? 4 : 2;
  const names = [...weights.keys()].sort();
  const size = (name: string) => weights.get(name)!.data.length * bytesPer;
  const total = names.reduce((n, name) => n + size(name), 0);
  const tensorsOf = (list: string[]) => new Map(list.map((name) => [name, { ...weights.get(name)!, dtype: st }] as const));
  if (total <= maxShardBytes) {
    writeSafetensors(join(outDir, 'model.safetensors'), tensorsOf(names), { format: 'pt' });
    return ['model.safetensors'];
  }
  const shards: string[][] = [[]];
  let filled = 0;
  for (const name of names) {
    if (filled > 0 && filled + size(name) > maxShardBytes) {
      shards.push([]);
      filled = 0;
    }
    shards.at(-1)!.push(name);
    filled += size(name);
  }
  const pad = (i: number) => String(i).padStart(5, '0');
  const files = shards.map((_, i) => `model-${pad(i + 1)}-of-${pad(shards.length)}.safetensors`);
  const weightMap: Record<string, string> = {};
  shards.forEach((list, i) => {
    writeSafetensors(join(outDir, files[i]!), tensorsOf(list), { format: 'pt' });
    for (const name of list) weightMap[name] = files[i]!;
  });
  const index = { metadata: { total_size: total }, weight_map: weightMap };
  writeFileSync(join(outDir, 'model.safetensors.index.json'), JSON.stringify(index, null, 2) + '\n');
  return [...files, 'model.safetensors.index.json'];
}
