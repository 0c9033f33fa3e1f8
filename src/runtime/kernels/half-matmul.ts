/**
 * tfjs kernels (wasm backend) for a frozen weight W [N, K] stored once as 16-bit values (bf16 or f16) in an
 * int32 tensor of packed pairs, little-endian, row-major as Hugging Face stores it. They run ftc's
 * kernels/half.ts, which widen W inside the product (see that file for the layout):
 *   FtcHalfForward  x [M, K] → x·Wᵀ [M, N]
 *   FtcHalfBackward dy [M, N] → dy·W [M, K]
 *   FtcHalfRows     int32 indices [n] → W's rows [n, K]
 *   FtcHalfDense    → W [N, K] as float32
 * Scratch is one block of widened panels, at most PACK_BYTES whatever W's size, from the guarded allocator.
 * Products of fewer than GEMV_ROWS rows (decoding: one token) read W directly, with no packing.
 */
import type { KernelConfig, TensorInfo } from '../tf.js';
import { allocScratch, GEMV_ROWS, K_BLOCK, packBlockCols, rowBlockFor, TILE_BYTES } from './batch-matmul.js';
import { kernelsFor, type MatmulExports, type WasmBackendLike } from './wasm-module.js';

export const HALF_FORWARD = 'FtcHalfForward';
export const HALF_BACKWARD = 'FtcHalfBackward';
export const HALF_ROWS = 'FtcHalfRows';
export const HALF_DENSE = 'FtcHalfDense';

/** What every kernel is told about the weight. */
export interface HalfAttrs {
  format: 'bf16' | 'f16';
  outFeatures: number;
  inFeatures: number;
  [key: string]: unknown;
}

interface Args {
  inputs: Record<string, TensorInfo>;
  backend: unknown;
  attrs: HalfAttrs;
}

type Body = (k: MatmulExports, b: WasmBackendLike, inputs: Record<string, TensorInfo>, a: HalfAttrs & { f16: number }) => TensorInfo;

/** A kernel config around `body`, which gets the bound kernels, the backend and the attrs with f16 as 0/1. */
function kernel(kernelName: string, body: Body): KernelConfig {
  const kernelFunc = ({ inputs, backend, attrs }: Args): TensorInfo => {
    const b = backend as WasmBackendLike;
    return body(kernelsFor(b), b, inputs, { ...attrs, f16: attrs.format === 'f16' ? 1 : 0 });
  };
  return { kernelName, backendName: 'wasm', kernelFunc: kernelFunc as unknown as KernelConfig['kernelFunc'] };
}

const ptr = (b: WasmBackendLike, t: TensorInfo): number => b.getMemoryOffset(t.dataId);

const forward = kernel(HALF_FORWARD, (k, b, { x, w }, { outFeatures: N, inFeatures: K, f16 }) => {
  const M = x.shape[0];
  const out = b.makeOutput([M, N], 'float32');
  if (M * N === 0) return out;
  const [xp, wp, yp] = [ptr(b, x), ptr(b, w), ptr(b, out)];
  if (M < GEMV_ROWS || K === 0) {
    // K floats of scratch: the GEMV splits x into its even and odd elements there.
    const xs = allocScratch(b, K * 4 + 16, out);
    const gemv = f16 ? k.gemvF16 : k.gemvBf16;
    try {
      for (let i = 0; i < M; i++) gemv(xp + i * K * 4, wp, yp + i * N * 4, K, N, xs);
    } finally {
      b.wasm._free(xs);
    }
    return out;
  }
  // op(B) = Wᵀ: W's rows are its columns (transposed storage, row length K).
  blocked(b, out, K, N, (cols, n0, scratch, tile) => {
    (f16 ? k.packF16 : k.packBf16)(wp + n0 * K * 2, K, cols, K, 1, scratch);
    k.matmul(xp, K * 4, 4, scratch, yp + n0 * 4, M, cols, N, K, rowBlockFor(K), K_BLOCK, tile);
  });
  return out;
});

const backward = kernel(HALF_BACKWARD, (k, b, { dy, w }, { outFeatures: N, inFeatures: K, f16 }) => {
  const M = dy.shape[0];
  const out = b.makeOutput([M, K], 'float32');
  if (M * K === 0) return out;
  const [dp, wp, xp] = [ptr(b, dy), ptr(b, w), ptr(b, out)];
  if (M < GEMV_ROWS || N === 0) {
    const gemvT = f16 ? k.gemvTF16 : k.gemvTBf16;
    for (let i = 0; i < M; i++) gemvT(dp + i * N * 4, wp, xp + i * K * 4, N, K);
    return out;
  }
  // op(B) = W [N, K] as stored: N deep, K wide, row length K.
  blocked(b, out, N, K, (cols, k0, scratch, tile) => {
    (f16 ? k.packF16 : k.packBf16)(wp + k0 * 2, N, cols, K, 0, scratch);
    k.matmul(dp, N * 4, 4, scratch, xp + k0 * 4, M, cols, K, N, rowBlockFor(N), K_BLOCK, tile);
  });
  return out;
});

/** Runs `step(cols, from, scratch, tile)` over blocks of op(B)'s `width` columns, `depth` deep, in one scratch. */
function blocked(b: WasmBackendLike, out: TensorInfo, depth: number, width: number,
  step: (cols: number, from: number, scratch: number, tile: number) => void): void {
  const blockCols = packBlockCols(depth, width);
  const packedBytes = depth * Math.ceil(blockCols / 8) * 32;
  const scratch = allocScratch(b, packedBytes + TILE_BYTES, out);
  try {
    for (let from = 0; from < width; from += blockCols) step(Math.min(blockCols, width - from), from, scratch, scratch + packedBytes);
  } finally {
    b.wasm._free(scratch);
  }
}

const rows = kernel(HALF_ROWS, (k, b, { indices, w }, { outFeatures: N, inFeatures: K, f16 }) => {
  const n = indices.shape[0]!;
  const out = b.makeOutput([n, K], 'float32');
  // Read after the output's allocation, which may have grown (and so replaced) the heap's buffer.
  const ids = new Int32Array(b.wasm.HEAPF32.buffer, ptr(b, indices), n);
  const [wp, op] = [ptr(b, w), ptr(b, out)];
  for (let i = 0; i < n; i++) {
    const id = ids[i]!;
    if (!(id >= 0 && id < N)) {
      b.disposeData(out.dataId);
      throw new Error(`${HALF_ROWS}: index ${id} is outside [0, ${N})`);
    }
    k.widen16(wp + id * K * 2, K, f16, op + i * K * 4);
  }
  return out;
});

const dense = kernel(HALF_DENSE, (k, b, { w }, { outFeatures: N, inFeatures: K, f16 }) => {
  const out = b.makeOutput([N, K], 'float32');
  k.widen16(ptr(b, w), N * K, f16, ptr(b, out));
  return out;
});

/** The kernels installWasmKernels registers on the wasm backend. */
export const HALF_KERNELS: KernelConfig[] = [forward, backward, rows, dense];
