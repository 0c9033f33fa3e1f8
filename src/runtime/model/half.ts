/**
 * IEEE half precision (F16) and bfloat16 (BF16) to and from float32, the two 16-bit formats
 * safetensors files hold. Decoding is exact (every 16-bit value is a float32); encoding rounds to
 * nearest, ties to even, as PyTorch's `.half()` / `.bfloat16()` do.
 */

import type { HalfValues, HostTensor } from './api.js';
import { elementCount } from '../../model-spec/shape.js';

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

let f16Table: Float32Array | undefined;

/** All 65536 F16 values as float32, built once (256 KiB) so decoding a tensor is a table lookup. */
function table(): Float32Array {
  if (!f16Table) {
    f16Table = new Float32Array(65536);
    for (let h = 0; h < 65536; h++) f16Table[h] = decodeF16(h);
  }
  return f16Table;
}

/** One F16 bit pattern to its value, from the definition: sign, 5-bit exponent (bias 15), 10-bit mantissa. */
export function decodeF16(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const mant = h & 0x3ff;
  if (exp === 0) return sign * mant * 2 ** -24; // zero and subnormals
  if (exp === 31) return mant === 0 ? sign * Infinity : NaN;
  return sign * (1 + mant / 1024) * 2 ** (exp - 15);
}

/** One BF16 bit pattern to its value: the upper half of a float32. */
export function decodeBf16(h: number): number {
  u32[0] = (h & 0xffff) << 16;
  return f32[0]!;
}

/** Decodes `count` little-endian F16 values from `src` into `dst` starting at `dstOffset`. */
export function decodeF16Into(src: Uint8Array, count: number, dst: Float32Array, dstOffset: number): void {
  const t = table();
  for (let i = 0; i < count; i++) dst[dstOffset + i] = t[src[2 * i]! | (src[2 * i + 1]! << 8)]!;
}

/** Decodes `count` little-endian BF16 values from `src` into `dst`: writes the float32 bits directly. */
export function decodeBf16Into(src: Uint8Array, count: number, dst: Float32Array, dstOffset: number): void {
  const bits = new Uint32Array(dst.buffer, dst.byteOffset, dst.length);
  for (let i = 0; i < count; i++) bits[dstOffset + i] = (src[2 * i]! | (src[2 * i + 1]! << 8)) << 16 >>> 0;
}

/** float32 → F16 bits, round to nearest even; overflow becomes ±Infinity, NaN stays NaN. */
export function encodeF16(value: number): number {
  f32[0] = value;
  const x = u32[0]!;
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  const mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0);
  // Re-bias the exponent from 127 to 15.
  const e = exp - 127 + 15;
  if (e >= 31) return sign | 0x7c00;
  if (e <= 0) {
    // Subnormal (or zero) in F16: shift the mantissa, with its implicit 1, right by 1 - e extra places.
    if (e < -10) return sign;
    const m = mant | 0x800000;
    const shift = 14 - e;
    let half = m >>> shift;
    const rem = m & ((1 << shift) - 1);
    const halfway = 1 << (shift - 1);
    if (rem > halfway || (rem === halfway && (half & 1))) half++;
    return sign | half;
  }
  let half = sign | (e << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  // A carry out of the mantissa correctly bumps the exponent (up to Infinity).
  if (rem > 0x1000 || (rem === 0x1000 && (half & 1))) half++;
  return half;
}

/** float32 → BF16 bits, round to nearest even; NaN stays a (quiet) NaN. */
export function encodeBf16(value: number): number {
  f32[0] = value;
  const x = u32[0]!;
  if ((x & 0x7f800000) === 0x7f800000 && (x & 0x7fffff)) return ((x >>> 16) | 0x40) & 0xffff;
  const rounded = x + 0x7fff + ((x >>> 16) & 1);
  return (rounded >>> 16) & 0xffff;
}

/**
 * A host tensor that keeps its 16-bit values and decodes `data` only when something reads it (the f32 upload,
 * export): a 16-bit upload never widens the weight on the host. `bits` is padded to an even length so it
 * can be viewed as 32-bit words.
 */
export function halfHostTensor(shape: number[], half: HalfValues): HostTensor {
  let data: Float32Array | undefined;
  return {
    shape,
    half,
    get data(): Float32Array {
      if (!data) {
        const count = elementCount(shape);
        data = new Float32Array(count);
        const bytes = new Uint8Array(half.bits.buffer, half.bits.byteOffset, 2 * count);
        (half.format === 'f16' ? decodeF16Into : decodeBf16Into)(bytes, count, data, 0);
      }
      return data;
    },
  };
}

/** Index of the first infinity or NaN among `count` 16-bit values, or -1: the exponent bits all set. */
export function firstNonFiniteHalf(half: HalfValues, count: number): number {
  const mask = half.format === 'f16' ? 0x7c00 : 0x7f80;
  const bits = half.bits;
  for (let i = 0; i < count; i++) if ((bits[i]! & mask) === mask) return i;
  return -1;
}

/** The value of one 16-bit pattern. */
export function decodeHalf(format: HalfValues['format'], h: number): number {
  return format === 'f16' ? decodeF16(h) : decodeBf16(h);
}
