/**
 * bitsandbytes' 8-bit blockwise quantization as its CPU library does it (csrc/cpu_ops.cpp, quantize_cpu_impl),
 * used by double quantization for the absmax values. Not a nearest-code search: the scaled value in [-1, 1] is
 * mapped to one of 65536 bins by `trunc(fma((v + 1) · 0.5, 65535, 0.5))` (the shipped x86 build contracts it to an
 * FMA) and the bin to a code through a table built from the codes' midpoints, so ties and near-ties fall where
 * bitsandbytes puts them.
 */

const LUT_SIZE = 65536;

const lutCache = new WeakMap<Float32Array, Uint8Array>();

/** build_quantize_lut: bin i holds the number of code midpoints below the bin's value. */
function quantizeLut(code: Float32Array): Uint8Array {
  const cached = lutCache.get(code);
  if (cached) return cached;
  const midpoints = new Float32Array(code.length - 1);
  for (let i = 0; i < midpoints.length; i++) midpoints[i] = Math.fround(0.5 * Math.fround(code[i] + code[i + 1]));
  const lut = new Uint8Array(LUT_SIZE);
  let codeIdx = 0;
  for (let i = 0; i < LUT_SIZE; i++) {
    const val = Math.fround(Math.fround((2 * i) / (LUT_SIZE - 1)) - 1);
    while (codeIdx < midpoints.length && midpoints[codeIdx] < val) codeIdx++;
    lut[i] = codeIdx;
  }
  lutCache.set(code, lut);
  return lut;
}

/** norm_to_lut_index: the FMA rounds once to f32 (t · 65535 + 0.5 is exact in f64 wherever the bin can change). */
function lutIndex(v: number): number {
  const clamped = Math.min(1, Math.max(-1, v));
  const t = Math.fround(Math.fround(clamped + 1) * 0.5);
  return Math.trunc(Math.fround(t * (LUT_SIZE - 1) + 0.5)) & 0xffff;
}

export interface Blockwise8 {
  /** One code index per value. */
  codes: Uint8Array;
  /** max |x| per block of `blocksize` consecutive values (the last block may be shorter). */
  absmax: Float32Array;
}

/** quantize_blockwise(x, code, blocksize) on bitsandbytes' CPU backend. */
export function quantizeBlockwise8(x: Float32Array, code: Float32Array, blocksize: number): Blockwise8 {
  const lut = quantizeLut(code);
  const blocks = Math.ceil(x.length / blocksize);
  const codes = new Uint8Array(x.length);
  const absmax = new Float32Array(blocks);
  for (let b = 0; b < blocks; b++) {
    const start = b * blocksize;
    const end = Math.min(start + blocksize, x.length);
    let max = 0;
    for (let i = start; i < end; i++) max = Math.max(max, Math.abs(x[i]));
    absmax[b] = max;
    if (max === 0) continue; // codes stay 0, as bitsandbytes writes them
    const inv = Math.fround(1 / max);
    for (let i = start; i < end; i++) codes[i] = lut[lutIndex(Math.fround(x[i] * inv))];
  }
  return { codes, absmax };
}

/** dequantize_blockwise: code[q] · absmax of its block, in f32. */
export function dequantizeBlockwise8(q: Blockwise8, code: Float32Array, blocksize: number): Float32Array {
  const out = new Float32Array(q.codes.length);
  for (let i = 0; i < out.length; i++) out[i] = code[q.codes[i]] * q.absmax[Math.floor(i / blocksize)];
  return out;
}
