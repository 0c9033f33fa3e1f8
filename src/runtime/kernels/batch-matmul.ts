/**
 * BatchMatMul for the wasm backend on the SIMD kernels of kernels/matmul.ts.
 *
 * Semantics are tfjs's: out[..., M, N] = op(a)[..., M, K] · op(b)[..., K, N] where op transposes the last
 * two dims when asked, and the leading (batch) dims broadcast numpy-style. Inputs are read in place and
 * the output is allocated by the backend (`makeOutput`), so the result is an ordinary wasm tensor.
 */
import type { TensorInfo } from '../tf.js';
import { heapExhausted } from './heap.js';
import { kernelsFor, type WasmBackendLike } from './wasm-module.js';

/** Rows of op(A) swept against all of B's panels at once: ~128 KiB of A, so it stays in L2. */
const A_BLOCK_BYTES = 128 * 1024;
/** K is processed in blocks of this many: a tile's panel slice (8 KiB) and A rows stay in L1. */
export const K_BLOCK = 256;
/** Packed B panels at most this big; wider B is packed and multiplied a block of columns at a time. */
export const PACK_BYTES = 16 * 2 ** 20;
/** Scratch for the partial last column panel (8 floats), after the packed panels. */
export const TILE_BYTES = 32;
/** Below this many rows of op(A) a product reads B in place (GEMV) instead of packing it for the 4-row tiles. */
export const GEMV_ROWS = 4;

export interface MatmulShape {
  M: number;
  N: number;
  K: number;
  /** Leading dims of the output after broadcasting. */
  batchShape: number[];
  /** For each output batch, the flat batch index into a and into b. */
  aBatch: Int32Array;
  bBatch: Int32Array;
}

/** Resolves shapes and batch broadcasting; throws (an internal invariant: tfjs's op checks first). */
export function matmulShape(aShape: number[], bShape: number[], transposeA: boolean, transposeB: boolean): MatmulShape {
  const ra = aShape.length;
  const rb = bShape.length;
  if (ra < 2 || rb < 2) throw new Error(`BatchMatMul needs rank >= 2, got [${aShape}] and [${bShape}]`);
  const M = transposeA ? aShape[ra - 1] : aShape[ra - 2];
  const K = transposeA ? aShape[ra - 2] : aShape[ra - 1];
  const Kb = transposeB ? bShape[rb - 1] : bShape[rb - 2];
  const N = transposeB ? bShape[rb - 2] : bShape[rb - 1];
  if (K !== Kb) throw new Error(`BatchMatMul inner dims differ: [${aShape}] · [${bShape}]`);
  const outerA = aShape.slice(0, -2);
  const outerB = bShape.slice(0, -2);
  const rank = Math.max(outerA.length, outerB.length);
  const batchShape: number[] = [];
  for (let d = 0; d < rank; d++) {
    const da = outerA[d - (rank - outerA.length)] ?? 1;
    const db = outerB[d - (rank - outerB.length)] ?? 1;
    if (da !== db && da !== 1 && db !== 1) {
      throw new Error(`BatchMatMul batch dims do not broadcast: [${aShape}] · [${bShape}]`);
    }
    batchShape.push(Math.max(da, db));
  }
  const total = batchShape.reduce((x, y) => x * y, 1);
  const aBatch = new Int32Array(total);
  const bBatch = new Int32Array(total);
  // Walk output batches in row-major order, carrying each input's flat index via its own strides
  // (stride 0 on a broadcast dim).
  const strides = (outer: number[]) => {
    const s = new Array<number>(rank).fill(0);
    let acc = 1;
    for (let d = outer.length - 1; d >= 0; d--) {
      s[d + rank - outer.length] = outer[d] === 1 ? 0 : acc;
      acc *= outer[d];
    }
    return s;
  };
  const sa = strides(outerA);
  const sb = strides(outerB);
  const index = new Array<number>(rank).fill(0);
  for (let t = 0; t < total; t++) {
    let ia = 0;
    let ib = 0;
    for (let d = 0; d < rank; d++) {
      ia += index[d] * sa[d];
      ib += index[d] * sb[d];
    }
    aBatch[t] = ia;
    bBatch[t] = ib;
    for (let d = rank - 1; d >= 0; d--) {
      if (++index[d] < batchShape[d]) break;
      index[d] = 0;
    }
  }
  return { M, N, K, batchShape, aBatch, bBatch };
}

/**
 * Computes op(a)·op(b) into a new backend tensor. Both inputs must be float32 wasm tensors.
 * Scratch for B's packed panels comes from the backend's allocator and is freed before returning.
 */
export function wasmBatchMatMul(backend: WasmBackendLike, a: TensorInfo, b: TensorInfo, transposeA: boolean, transposeB: boolean): TensorInfo {
  const { M, N, K, batchShape, aBatch, bBatch } = matmulShape(a.shape, b.shape, transposeA, transposeB);
  const out = backend.makeOutput([...batchShape, M, N], 'float32');
  const batches = aBatch.length;
  if (M * N * batches === 0) return out;
  const cBase = backend.getMemoryOffset(out.dataId);
  if (K === 0) {
    backend.wasm.HEAPF32.fill(0, cBase >>> 2, (cBase >>> 2) + batches * M * N);
    return out;
  }
  const kernels = kernelsFor(backend);
  const aBase = backend.getMemoryOffset(a.dataId);
  const bBase = backend.getMemoryOffset(b.dataId);
  // op(A)[i,k] at a + i*sAi + k*sAk: transposeA only swaps the strides.
  const sAi = transposeA ? 4 : K * 4;
  const sAk = transposeA ? M * 4 : 4;
  if (M < GEMV_ROWS && (M === 1 || !transposeA)) {
    // A row of op(A) is contiguous here (sAk = 4): dot products along B's rows, or axpys of them, read B once
    // in place. Packing B for the 4×8 tiles would copy all of it (every weight, at every decoded token).
    for (let t = 0; t < batches; t++) {
      const bPtr = bBase + bBatch[t] * K * N * 4;
      for (let i = 0; i < M; i++) {
        const x = aBase + aBatch[t] * M * K * 4 + i * sAi;
        const y = cBase + (t * M + i) * N * 4;
        if (transposeB) kernels.gemvT32(x, bPtr, y, K, N);
        else kernels.gemvN32(x, bPtr, y, K, N, N);
      }
    }
    return out;
  }
  const rowBlock = rowBlockFor(K);
  // B is packed a block of columns at a time, so scratch is bounded whatever B's size (packing the whole
  // [896, 151936] lm_head took 544 MB per call); a B that fits is packed whole, once per distinct batch.
  const blockCols = packBlockCols(K, N);
  const packedBytes = K * Math.ceil(blockCols / 8) * 32;
  // Allocating may grow the heap: pointers stay valid (only the buffer object changes), and the kernel
  // instance holds the Memory, not a buffer, so nothing has to be re-read here.
  const scratch = allocScratch(backend, packedBytes + TILE_BYTES, out);
  const tile = scratch + packedBytes;
  const trans = transposeB ? 1 : 0;
  // Byte offset of op(B)'s column n in its stored matrix.
  const column = (n: number) => (transposeB ? n * K * 4 : n * 4);
  /** C rows [rows, N] at c = op(A) rows at a times op(B) at b, one block of columns after another. */
  const blocked = (aPtr: number, bPtr: number, cPtr: number, rows: number) => {
    for (let n0 = 0; n0 < N; n0 += blockCols) {
      const cols = Math.min(blockCols, N - n0);
      kernels.packB(bPtr + column(n0), K, cols, N, trans, scratch);
      kernels.matmul(aPtr, sAi, sAk, scratch, cPtr + n0 * 4, rows, cols, N, K, rowBlock, K_BLOCK, tile);
    }
  };
  try {
    // One shared B with A not transposed: A's batches are consecutive rows of one [batches*M, K] matrix.
    const sharedB = batches > 1 && !transposeA && bBatch.every((x) => x === bBatch[0]) && isIdentity(aBatch);
    if (sharedB) {
      blocked(aBase, bBase + bBatch[0] * K * N * 4, cBase, batches * M);
      return out;
    }
    let packedIndex = -1;
    for (let t = 0; t < batches; t++) {
      const aPtr = aBase + aBatch[t] * M * K * 4;
      const cPtr = cBase + t * M * N * 4;
      if (blockCols < N) {
        blocked(aPtr, bBase + bBatch[t] * K * N * 4, cPtr, M);
        continue;
      }
      if (bBatch[t] !== packedIndex) {
        kernels.packB(bBase + bBatch[t] * K * N * 4, K, N, N, trans, scratch);
        packedIndex = bBatch[t];
      }
      kernels.matmul(aPtr, sAi, sAk, scratch, cPtr, M, N, N, K, rowBlock, K_BLOCK, tile);
    }
    return out;
  } finally {
    backend.wasm._free(scratch);
  }
}

/** Rows of op(A) swept against all panels per K block: about A_BLOCK_BYTES of A, a multiple of the 4-row tile. */
export function rowBlockFor(K: number): number {
  return Math.max(4, Math.floor(A_BLOCK_BYTES / (Math.min(K, K_BLOCK) * 4) / 4) * 4);
}

/** Columns of op(B) packed at once for a K-deep B: a multiple of 8 whose panels fit in PACK_BYTES. */
export function packBlockCols(K: number, N: number): number {
  return Math.min(N, Math.max(1, Math.floor(PACK_BYTES / (K * 32))) * 8);
}

/**
 * `bytes` of kernel scratch from the backend's (guarded) allocator; on failure the not yet returned output
 * `out` is freed (it never reaches the engine) and the failure stays E_WASM_HEAP_EXHAUSTED.
 */
export function allocScratch(backend: WasmBackendLike, bytes: number, out: TensorInfo): number {
  try {
    const ptr = backend.wasm._malloc(bytes) >>> 0; // throws when guarded (heap.ts)
    if (ptr === 0) throw heapExhausted(bytes, backend.wasm.HEAPF32.byteLength);
    return ptr;
  } catch (e) {
    backend.disposeData(out.dataId);
    throw e;
  }
}

function isIdentity(xs: Int32Array): boolean {
  for (let i = 0; i < xs.length; i++) if (xs[i] !== i) return false;
  return true;
}
