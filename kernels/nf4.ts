// Products with a 4-bit (NF4/FP4) frozen weight, read in bitsandbytes' packed layout and never widened whole.
//
// W [N, K] (Hugging Face's [out, in]) is flattened row-major; element i = n·K + k has its code in byte i >> 1
// (high nibble when i is even) and its scale in absmax[i >> shift] (blocks of 2^shift consecutive elements,
// which may straddle rows). Its value is code[nibble] · absmax, one f32 product, as bitsandbytes dequantizes.
//
// The products reuse matmul.ts's register-tiled kernel: a group of column panels of op(W) is dequantized
// straight into the panel layout `matmul` reads (K×8 floats per panel, k-major), then every row of the
// activation sweeps it. Each weight element is decoded once per product into scratch of at most ~1 MiB,
// chosen by the caller (src/runtime/quant/nf4-kernel.ts); no copy of the whole weight exists at any time.
// M = 1 (decoding one token) takes `nf4Gemv`, which decodes in registers as it goes.
//
// Like matmul.ts this keeps no static data: the 16-value code and the byte→pair table live in caller scratch.
import { matmul } from './matmul';

const NR: i32 = 8;

/** The value of flat element i. */
// @ts-ignore: decorator
@inline
function value4(packed: usize, absmax: usize, code: usize, shift: u32, i: usize): f32 {
  const byte = <u32>load<u8>(packed + (i >> 1));
  const nibble = i & 1 ? byte & 15 : byte >> 4;
  return load<f32>(code + (<usize>nibble << 2)) * load<f32>(absmax + ((i >> shift) << 2));
}

/**
 * Dequantizes the rectangle W[r0 .. r0+R, c0 .. c0+C] of W [rows, K]; element (r, c) goes to dst + r·dr + c·dc
 * (bytes), so one routine writes row-major tiles and the transposed panels of the forward product alike.
 */
export function nf4Dequant(packed: usize, absmax: usize, code: usize, K: i32, shift: u32, r0: i32, R: i32, c0: i32, C: i32, dst: usize, dr: usize, dc: usize): void {
  for (let r: i32 = 0; r < R; r++) {
    let i: usize = <usize>(r0 + r) * <usize>K + <usize>c0;
    let out = dst + <usize>r * dr;
    for (let c: i32 = 0; c < C; c++) {
      store<f32>(out, value4(packed, absmax, code, shift, i));
      i++;
      out += dc;
    }
  }
}

/** Zeroes `bytes` (a multiple of 4) at p: the padding lanes of a partial last panel. */
// @ts-ignore: decorator
@inline
function zero(p: usize, count: i32, stride: usize): void {
  for (let j: i32 = 0; j < count; j++) store<f32>(p + <usize>j * stride, 0);
}

/**
 * Forward: y [M, N] = x [M, K] · Wᵀ. Output columns are taken `groupCols` (a multiple of 8) at a time: their
 * rows of W are dequantized into `panels` (groupCols·K·4 bytes) and multiplied by every row of x.
 */
export function nf4MatmulT(x: usize, M: i32, K: i32, packed: usize, absmax: usize, code: usize, shift: u32, N: i32, y: usize,
  groupCols: i32, panels: usize, rowBlock: i32, kBlock: i32, tile: usize): void {
  const panelBytes: usize = <usize>K * 32;
  for (let n0: i32 = 0; n0 < N; n0 += groupCols) {
    const cols = min(groupCols, N - n0);
    for (let p: i32 = 0; p < cols; p += NR) {
      const dst = panels + <usize>(p / NR) * panelBytes;
      const live = min(NR, cols - p);
      // Panel column j holds row n0 + p + j of W along k: stride 32 bytes between k.
      for (let j: i32 = 0; j < live; j++) nf4Dequant(packed, absmax, code, K, shift, n0 + p + j, 1, 0, K, dst + (<usize>j << 2), 0, 32);
      for (let j: i32 = live; j < NR; j++) zero(dst + (<usize>j << 2), K, 32);
    }
    matmul(x, <usize>K << 2, 4, panels, y + (<usize>n0 << 2), M, cols, N, K, rowBlock, kBlock, tile);
  }
}

/**
 * Input gradient: dx [M, K] = dy [M, N] · W. Output columns are columns of W, `groupCols` at a time: the
 * [N, 8] column slices of W are dequantized into panels (groupCols·N·4 bytes), contiguous 8 codes per row.
 */
export function nf4MatmulN(dy: usize, M: i32, N: i32, packed: usize, absmax: usize, code: usize, shift: u32, K: i32, dx: usize,
  groupCols: i32, panels: usize, rowBlock: i32, kBlock: i32, tile: usize): void {
  const panelBytes: usize = <usize>N * 32;
  for (let k0: i32 = 0; k0 < K; k0 += groupCols) {
    const cols = min(groupCols, K - k0);
    for (let p: i32 = 0; p < cols; p += NR) {
      const dst = panels + <usize>(p / NR) * panelBytes;
      const live = min(NR, cols - p);
      nf4Dequant(packed, absmax, code, K, shift, 0, N, k0 + p, live, dst, 32, 4);
      for (let n: i32 = 0; live < NR && n < N; n++) zero(dst + <usize>n * 32 + (<usize>live << 2), NR - live, 4);
    }
    matmul(dy, <usize>N << 2, 4, panels, dx + (<usize>k0 << 2), M, cols, K, N, rowBlock, kBlock, tile);
  }
}

/** f32x4 lanes summed. */
// @ts-ignore: decorator
@inline
function hsum(v: v128): f32 {
  return f32x4.extract_lane(v, 0) + f32x4.extract_lane(v, 1) + f32x4.extract_lane(v, 2) + f32x4.extract_lane(v, 3);
}

/**
 * y [N] = W · x [K] for one row of activations. Within a block the scale is common, so each block's codes are
 * summed against x first and scaled once. Eight codes (four bytes) at a time come from `pairs`, a 256-entry
 * table of (code[hi], code[lo]) f32 pairs (2 KiB): two 8-byte loads build one vector of four values.
 */
export function nf4Gemv(x: usize, K: i32, packed: usize, absmax: usize, code: usize, pairs: usize, shift: u32, N: i32, y: usize): void {
  const blockLen: usize = <usize>1 << shift;
  for (let n: i32 = 0; n < N; n++) {
    let i: usize = <usize>n * <usize>K;
    const end = i + <usize>K;
    let xk = x;
    let acc: f32 = 0;
    while (i < end) {
      const segEnd = min(end, ((i >> shift) + 1) * blockLen);
      const scale = load<f32>(absmax + ((i >> shift) << 2));
      let s0 = f32x4.splat(0);
      let s1 = f32x4.splat(0);
      let rest: f32 = 0;
      if (i & 1) {
        rest += load<f32>(code + (<usize>(load<u8>(packed + (i >> 1)) & 15) << 2)) * load<f32>(xk);
        i++;
        xk += 4;
      }
      while (i + 8 <= segEnd) {
        const bytes = load<u32>(packed + (i >> 1));
        let lo = v128.load64_zero(pairs + (<usize>(bytes & 255) << 3));
        lo = v128.load64_lane(pairs + (<usize>((bytes >> 8) & 255) << 3), lo, 1);
        let hi = v128.load64_zero(pairs + (<usize>((bytes >> 16) & 255) << 3));
        hi = v128.load64_lane(pairs + (<usize>(bytes >> 24) << 3), hi, 1);
        s0 = f32x4.add(s0, f32x4.mul(lo, v128.load(xk)));
        s1 = f32x4.add(s1, f32x4.mul(hi, v128.load(xk, 16)));
        i += 8;
        xk += 32;
      }
      while (i < segEnd) {
        const byte = <u32>load<u8>(packed + (i >> 1));
        const nibble = i & 1 ? byte & 15 : byte >> 4;
        rest += load<f32>(code + (<usize>nibble << 2)) * load<f32>(xk);
        i++;
        xk += 4;
      }
      acc += (hsum(f32x4.add(s0, s1)) + rest) * scale;
    }
    store<f32>(y + (<usize>n << 2), acc);
  }
}
