/**
 * 4-bit block quantization (NF4, FP4) bit for bit as bitsandbytes 0.50.2 does it on CPU
 * (backends/default/ops.py quantize_4bit, functional.quantize_4bit / dequantize_4bit):
 *
 * - the weight is flattened (row-major) and cut into blocks of `blocksize` consecutive values; the last block
 *   may be shorter. absmax = max |x| per block, in f32.
 * - each value is scaled into [-1, 1] and given the code whose value is nearest; a value exactly halfway between
 *   two codes gets the lower one (torch.bucketize over the codes' f32 midpoints).
 * - codes are packed two per byte, the first value of a pair in the high nibble; an odd count is padded with the
 *   code of 0.
 * - double quantization ("compress_statistics"): offset = mean(absmax) (torch's f32 summation order), and
 *   absmax − offset is quantized to 8 bits with the dynamic code in blocks of 256 (see blockwise8.ts).
 *
 * Dequantization: code[nibble] · absmax of its block, in f32; with double quantization the absmax is first
 * rebuilt as dynamic[q] · absmax2 + offset.
 */
import { FtcError } from '../../errors.js';
import { type Blockwise8, dequantizeBlockwise8, quantizeBlockwise8 } from './blockwise8.js';
import { DYNAMIC_CODE, FP4_CODE, NF4_CODE } from './codebooks.js';
import { torchMean } from './torch-mean.js';
import { elementCount } from '../../model-spec/shape.js';

export type QuantType = 'nf4' | 'fp4';

/** Block sizes bitsandbytes accepts for 4-bit quantization. */
export const BLOCKSIZES_4BIT = [32, 64, 128, 256, 512, 1024, 2048, 4096] as const;

/** bitsandbytes always quantizes the absmax of a double-quantized weight in blocks of 256. */
export const NESTED_BLOCKSIZE = 256;

/** The 8-bit quantized absmax of double quantization (bitsandbytes' QuantState.state2 plus its offset). */
export interface NestedAbsmax {
  /** One dynamic-code index per 4-bit block (QuantState.absmax when nested). */
  codes: Uint8Array;
  /** f32 scale per 256 absmax values (state2.absmax). */
  absmax2: Float32Array;
  /** The mean subtracted before quantizing (QuantState.offset). */
  offset: number;
  /** The 256 values of the 8-bit dynamic code (state2.code). */
  code: Float32Array;
  blocksize: typeof NESTED_BLOCKSIZE;
}

export interface Quantized4bit {
  quantType: QuantType;
  /** The weight's shape; its values are flattened row-major. */
  shape: number[];
  blocksize: number;
  /** ceil(n / 2) bytes: value 2i in the high nibble of byte i, value 2i + 1 in the low nibble. */
  packed: Uint8Array;
  /** The 16 code values, indexed by nibble (QuantState.code). */
  code: Float32Array;
  /** f32 absmax per block, when not double-quantized. */
  absmax?: Float32Array;
  /** The quantized absmax, when double-quantized. */
  nested?: NestedAbsmax;
}

export interface Quantize4bitOptions {
  type: QuantType;
  blocksize?: number;
  doubleQuant?: boolean;
}

/** The 16 code values of a 4-bit type. */
export function code4bit(type: QuantType): Float32Array {
  return type === 'nf4' ? NF4_CODE : FP4_CODE;
}

interface Bounds {
  /** 15 f32 midpoints between the sorted codes. */
  midpoints: Float32Array;
  /** Sorted position → nibble (identity for NF4; FP4's codes are in bit order). */
  order: Uint8Array;
}

const boundsCache = new Map<QuantType, Bounds>();

/** _get_4bit_quantize_bounds: argsort of the codes (stable, as torch's CPU sort is), then midpoints. */
function bounds(type: QuantType): Bounds {
  let b = boundsCache.get(type);
  if (!b) {
    const code = code4bit(type);
    const order = Uint8Array.from([...code.keys()].sort((i, j) => code[i] - code[j]));
    const midpoints = new Float32Array(15);
    for (let i = 0; i < 15; i++) midpoints[i] = Math.fround(code[order[i]] + code[order[i + 1]]) / 2;
    b = { midpoints, order };
    boundsCache.set(type, b);
  }
  return b;
}

/** torch.bucketize(x, midpoints, right=False): the number of midpoints strictly below x. */
function bucket(x: number, midpoints: Float32Array): number {
  let lo = 0;
  let hi = midpoints.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (midpoints[mid] < x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** torch's clamp(min=1e-38) on an f32 absmax, which keeps an all-zero block's scale finite. */
const TINY_ABSMAX = Math.fround(1e-38);

/** A bf16 buffer (as safetensors stores it) widened to f32, exactly. */
export function bf16ToF32(bits: Uint16Array): Float32Array {
  const u32 = new Uint32Array(bits.length);
  for (let i = 0; i < bits.length; i++) u32[i] = bits[i] << 16;
  return new Float32Array(u32.buffer);
}

function checkArgs(n: number, shape: number[], blocksize: number): void {
  if (!(BLOCKSIZES_4BIT as readonly number[]).includes(blocksize))
    throw new FtcError('E_QUANT_BLOCKSIZE', `4-bit block size ${blocksize} is not one bitsandbytes supports`, undefined, `use one of ${BLOCKSIZES_4BIT.join(', ')} (64 is bitsandbytes' default)`);
  if (elementCount(shape) !== n) throw new Error(`quantize4bit: ${n} values do not fill shape [${shape.join(', ')}]`);
}

/** bitsandbytes.functional.quantize_4bit(w, blocksize, compress_statistics = doubleQuant, quant_type = type). */
export function quantize4bit(weight: Float32Array | Uint16Array, shape: number[], opts: Quantize4bitOptions): Quantized4bit {
  const x = weight instanceof Uint16Array ? bf16ToF32(weight) : weight;
  const blocksize = opts.blocksize ?? 64;
  checkArgs(x.length, shape, blocksize);
  const { midpoints, order } = bounds(opts.type);
  const n = x.length;
  const blocks = Math.ceil(n / blocksize);
  const full = Math.floor(n / blocksize);
  const absmax = new Float32Array(blocks);
  const nibbles = new Uint8Array(n + (n % 2));
  if (n % 2) nibbles[n] = order[bucket(0, midpoints)]; // bitsandbytes pads the scaled values with a 0
  for (let b = 0; b < blocks; b++) {
    const start = b * blocksize;
    const end = Math.min(start + blocksize, n);
    let max = 0;
    for (let i = start; i < end; i++) max = Math.max(max, Math.abs(x[i]));
    const clamped = Math.max(max, TINY_ABSMAX);
    // Full blocks multiply by the f32 reciprocal and keep the unclamped absmax; bitsandbytes handles the short
    // last block separately, dividing, and stores its clamped absmax.
    const isFull = b < full;
    absmax[b] = isFull ? max : clamped;
    const inv = Math.fround(1 / clamped);
    for (let i = start; i < end; i++) {
      const scaled = Math.min(1, Math.max(-1, isFull ? Math.fround(x[i] * inv) : Math.fround(x[i] / clamped)));
      nibbles[i] = order[bucket(scaled, midpoints)];
    }
  }
  const packed = new Uint8Array(nibbles.length / 2);
  for (let i = 0; i < packed.length; i++) packed[i] = (nibbles[2 * i] << 4) | nibbles[2 * i + 1];
  const q: Quantized4bit = { quantType: opts.type, shape: [...shape], blocksize, packed, code: code4bit(opts.type) };
  if (opts.doubleQuant) q.nested = quantizeAbsmax(absmax);
  else q.absmax = absmax;
  return q;
}

/** Double quantization of the absmax: subtract their mean, quantize to 8 bits in blocks of 256. */
function quantizeAbsmax(absmax: Float32Array): NestedAbsmax {
  const offset = torchMean(absmax);
  const centered = absmax.map((a) => a - offset); // Float32Array.map rounds each difference to f32
  const q = quantizeBlockwise8(centered, DYNAMIC_CODE, NESTED_BLOCKSIZE);
  return { codes: q.codes, absmax2: q.absmax, offset, code: DYNAMIC_CODE, blocksize: NESTED_BLOCKSIZE };
}

/** The f32 absmax per block, rebuilt from the double-quantized state when there is one. */
export function blockAbsmax(q: Quantized4bit): Float32Array {
  if (q.absmax) return q.absmax;
  if (!q.nested) throw new Error('Quantized4bit holds neither absmax nor a nested state');
  const nested: Blockwise8 = { codes: q.nested.codes, absmax: q.nested.absmax2 };
  const absmax = dequantizeBlockwise8(nested, q.nested.code, q.nested.blocksize);
  const offset = q.nested.offset;
  return absmax.map((a) => a + offset);
}

/** bitsandbytes.functional.dequantize_4bit to f32: code[nibble] · absmax of the value's block. */
export function dequantize4bit(q: Quantized4bit): Float32Array {
  const n = elementCount(q.shape);
  const absmax = blockAbsmax(q);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const byte = q.packed[i >> 1];
    const nibble = i & 1 ? byte & 0x0f : byte >> 4;
    out[i] = q.code[nibble] * absmax[Math.floor(i / q.blocksize)];
  }
  return out;
}
