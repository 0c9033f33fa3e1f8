/**
 * A QLoRA base model: every frozen linear layer of the decoder (q/k/v/o, gate/up/down) quantized to 4 bits as
 * bitsandbytes does it at load (quantize4bit.ts), while embeddings, norms and the LM head stay as stored: what
 * transformers' BitsAndBytesConfig(load_in_4bit=True) + PEFT leave in full precision.
 *
 * The lora stage quantizes once and keeps the result in its cached artifact (QUANTIZED_BASE_FILE, in
 * transformers' own 4-bit checkpoint layout: bnb-checkpoint.ts), so the cache key that covers the model's
 * content and the quantization settings covers it too. An adapter trained on such a base carries
 * QUANTIZATION_FILE (transformers' quantization_config of the base), so generate, score and export rebuild the
 * same base from the unquantized model.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { FtcError } from '../../errors.js';
import type { LlamaConfig } from '../../model-spec/config.js';
import { LINEAR_MODULES } from '../../model-spec/modules.js';
import type { WeightMap } from '../model/api.js';
import { modulePath } from '../model/peft.js';
import { readSafetensors } from '../model/safetensors.js';
import { locateWeights } from '../model/weights.js';
import { quantizedFromTensors, quantizedToTensors, quantizedWeightNames, readRawTensors, type RawTensor, writeRawTensors } from './bnb-checkpoint.js';
import { dequantize4bit, type QuantType, type Quantized4bit, quantize4bit } from './quantize4bit.js';

/** How the base is quantized (the lora stage's quantization / double_quant); blocks of 64, as bitsandbytes' default. */
export interface QuantSettings {
  type: QuantType;
  doubleQuant: boolean;
}

/** The quantized linears in the lora stage's artifact. */
export const QUANTIZED_BASE_FILE = 'base-4bit.safetensors';
/** Beside an adapter trained on a 4-bit base: the base's quantization_config, as transformers writes it. */
export const QUANTIZATION_FILE = 'quantization_config.json';

const BLOCKSIZE = 64;

/** The names of the weights QLoRA quantizes, layer by layer. */
export function quantizedLinearNames(config: LlamaConfig): string[] {
  const names: string[] = [];
  for (let i = 0; i < config.numHiddenLayers; i++) for (const m of LINEAR_MODULES) names.push(`${modulePath(i, m)}.weight`);
  return names;
}

/** Quantizes one host weight [out, in]. */
export function quantizeWeight(data: Float32Array, shape: number[], s: QuantSettings): Quantized4bit {
  return quantize4bit(data, shape, { type: s.type, blocksize: BLOCKSIZE, doubleQuant: s.doubleQuant });
}

/**
 * Reads the model's linear weights one at a time (so only one is unquantized in memory at once), quantizes
 * them and writes them to `file`. Returns the number of weights quantized.
 */
export function writeQuantizedBase(modelDir: string, config: LlamaConfig, s: QuantSettings, file: string): number {
  const where = locateWeights(modelDir);
  const tensors = new Map<string, RawTensor>();
  const names = quantizedLinearNames(config);
  for (const name of names) {
    const shard = where.get(name);
    if (!shard) throw new FtcError('E_MODEL_WEIGHTS_MISMATCH', `weights in ${modelDir} do not hold ${name}`, { file: join(modelDir, 'config.json') });
    const w = readSafetensors(shard, { filter: (n) => n === name }).get(name)!;
    quantizedToTensors(name, quantizeWeight(w.data, w.shape, s), tensors);
  }
  writeRawTensors(file, tensors);
  return names.length;
}

/** The quantized weights of a file written by writeQuantizedBase (or saved by transformers), by weight name. */
export function readQuantizedBase(file: string): Map<string, Quantized4bit> {
  const tensors = readRawTensors(file, () => true);
  const out = new Map<string, Quantized4bit>();
  for (const name of quantizedWeightNames(tensors.keys())) out.set(name, quantizedFromTensors(name, tensors, file));
  return out;
}

/** Quantizes the linears of a loaded weight map, moving them out of it (generate, score: no cached base). */
export function quantizeWeightMap(weights: WeightMap, config: LlamaConfig, s: QuantSettings): Map<string, Quantized4bit> {
  const out = new Map<string, Quantized4bit>();
  for (const name of quantizedLinearNames(config)) {
    const w = weights.get(name);
    if (!w) continue; // checkWeights names what is missing
    out.set(name, quantizeWeight(w.data, w.shape, s));
    weights.delete(name);
  }
  return out;
}

/** The base as training saw it: each linear replaced by its dequantized 4-bit value (export merges into this). */
export function dequantizeWeightMap(weights: WeightMap, config: LlamaConfig, s: QuantSettings): void {
  for (const name of quantizedLinearNames(config)) {
    const w = weights.get(name);
    if (w) weights.set(name, { shape: w.shape, data: dequantize4bit(quantizeWeight(w.data, w.shape, s)) });
  }
}

const TORCH_DTYPE = { fp32: 'float32', fp16: 'float16', bf16: 'bfloat16' } as const;

/** transformers' BitsAndBytesConfig fields for these settings. */
export function quantizationConfig(s: QuantSettings, computeDtype: keyof typeof TORCH_DTYPE = 'fp32'): Record<string, unknown> {
  return {
    quant_method: 'bitsandbytes',
    load_in_4bit: true,
    bnb_4bit_quant_type: s.type,
    bnb_4bit_use_double_quant: s.doubleQuant,
    bnb_4bit_compute_dtype: TORCH_DTYPE[computeDtype],
  };
}

export function writeQuantizationFile(dir: string, s: QuantSettings, computeDtype?: keyof typeof TORCH_DTYPE): void {
  writeFileSync(join(dir, QUANTIZATION_FILE), JSON.stringify(quantizationConfig(s, computeDtype), null, 2) + '\n');
}

/** The settings an adapter directory records for its base, or undefined for a full-precision base. */
export function readQuantizationFile(dir: string): QuantSettings | undefined {
  const file = join(dir, QUANTIZATION_FILE);
  if (!existsSync(file)) return undefined;
  let c: Record<string, unknown>;
  try {
    c = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
  } catch {
    throw new FtcError('E_ADAPTER_CONFIG_INVALID', `${file} is not JSON`, { file });
  }
  const type = c.bnb_4bit_quant_type;
  if (c.load_in_4bit !== true || (type !== 'nf4' && type !== 'fp4')) {
    throw new FtcError('E_ADAPTER_CONFIG_INVALID', `${file}: ftc reads 4-bit bitsandbytes configs (load_in_4bit, bnb_4bit_quant_type nf4 or fp4)`, { file });
  }
  return { type, doubleQuant: c.bnb_4bit_use_double_quant === true };
}
