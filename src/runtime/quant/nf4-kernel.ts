/**
 * The 4-bit products of kernels/nf4.ts as tfjs kernels on the wasm backend: `Nf4MatMul` computes
 * x [M, K] · Wᵀ (forward) or dy [M, N] · W (input gradient) from a weight held as its packed codes (an int32
 * tensor over the bytes), its f32 absmax and a small table tensor (the 16 code values and the byte → pair
 * table the GEMV path reads). The kernel reads them where the backend keeps them; only ~1 MiB of panel
 * scratch is allocated per call, and freed before it returns.
 */
import * as tf from '../tf.js';
import type { TensorInfo } from '../tf.js';
import { heapExhausted } from '../kernels/heap.js';
import { wasmKernelsInstalled } from '../kernels/index.js';
import { kernelsFor, type WasmBackendLike } from '../kernels/wasm-module.js';

export const NF4_MATMUL = 'FtcNf4MatMul';

/** The exports of kernels/nf4.ts (re-exported by kernels/matmul.ts); pointers are byte offsets into the heap. */
export interface Nf4Exports {
  nf4Dequant(packed: number, absmax: number, code: number, K: number, shift: number, r0: number, R: number, c0: number, C: number, dst: number, dr: number, dc: number): void;
  nf4MatmulT(x: number, M: number, K: number, packed: number, absmax: number, code: number, shift: number, N: number, y: number,
    groupCols: number, panels: number, rowBlock: number, kBlock: number, tile: number): void;
  nf4MatmulN(dy: number, M: number, N: number, packed: number, absmax: number, code: number, shift: number, K: number, dx: number,
    groupCols: number, panels: number, rowBlock: number, kBlock: number, tile: number): void;
  nf4Gemv(x: number, K: number, packed: number, absmax: number, code: number, pairs: number, shift: number, N: number, y: number): void;
}

/** Dequantized panels per call at most this big (a group of 8-column panels of op(W)). */
const PANEL_BYTES = 1 << 20;
/** As in kernels/batch-matmul.ts: rows of x swept per K block (~128 KiB) and the K block (L1). */
const A_BLOCK_BYTES = 128 * 1024;
const K_BLOCK = 256;
const TILE_BYTES = 32;

export interface Nf4Attrs {
  /** W's [out, in]. */
  N: number;
  K: number;
  /** log2 of the block size. */
  shift: number;
  /** 'forward': x·Wᵀ; 'backward': dy·W; 'dense': W itself [N, K] (x is ignored). */
  direction: 'forward' | 'backward' | 'dense';
}

/** The table tensor's layout: 16 code values, then 256 (code[hi], code[lo]) pairs. */
export function nf4Tables(code: Float32Array): Float32Array {
  const t = new Float32Array(16 + 512);
  t.set(code, 0);
  for (let b = 0; b < 256; b++) {
    t[16 + 2 * b] = code[b >> 4];
    t[16 + 2 * b + 1] = code[b & 15];
  }
  return t;
}

let registered = false;

/** Registers Nf4MatMul for the wasm backend once; true when ftc's wasm kernels serve this backend. */
export function nf4KernelAvailable(): boolean {
  if (tf.getBackend() !== 'wasm' || !wasmKernelsInstalled()) return false;
  if (!registered) {
    tf.registerKernel({ kernelName: NF4_MATMUL, backendName: 'wasm', kernelFunc: nf4MatMul as unknown as tf.KernelFunc });
    registered = true;
  }
  return true;
}

interface Args {
  inputs: { x: TensorInfo; packed: TensorInfo; absmax: TensorInfo; tables: TensorInfo };
  backend: WasmBackendLike;
  attrs: Nf4Attrs;
}

function nf4MatMul({ inputs, backend, attrs }: Args): TensorInfo {
  const { x, packed, absmax, tables } = inputs;
  const { N, K, shift, direction } = attrs;
  if (direction === 'dense') return dense(backend, inputs, attrs);
  const [M, inner] = x.shape;
  const forward = direction === 'forward';
  if (inner !== (forward ? K : N)) throw new Error(`Nf4MatMul: x is [${x.shape}], W is [${N}, ${K}] (${direction})`);
  const outCols = forward ? N : K;
  const out = backend.makeOutput([M, outCols], 'float32');
  if (M * outCols === 0) return out;
  const k = kernelsFor(backend) as unknown as Nf4Exports;
  const ptr = (t: TensorInfo) => backend.getMemoryOffset(t.dataId);
  const [xp, cp, ap, tp, yp] = [ptr(x), ptr(packed), ptr(absmax), ptr(tables), backend.getMemoryOffset(out.dataId)];
  if (forward && M === 1) {
    k.nf4Gemv(xp, K, cp, ap, tp, tp + 64, shift, N, yp);
    return out;
  }
  const depth = forward ? K : N; // the product's inner dimension: the length of each panel
  const groupCols = Math.min(Math.ceil(outCols / 8) * 8, Math.max(8, Math.floor(PANEL_BYTES / (depth * 32)) * 8));
  const scratchBytes = groupCols * depth * 4 + TILE_BYTES;
  let scratch: number;
  try {
    scratch = backend.wasm._malloc(scratchBytes) >>> 0; // throws when guarded (kernels/heap.ts)
    if (scratch === 0) throw heapExhausted(scratchBytes, backend.wasm.HEAPF32.byteLength);
  } catch (e) {
    backend.disposeData(out.dataId);
    throw e;
  }
  const rowBlock = Math.max(4, Math.floor(A_BLOCK_BYTES / (Math.min(depth, K_BLOCK) * 4) / 4) * 4);
  const tile = scratch + scratchBytes - TILE_BYTES;
  try {
    if (forward) k.nf4MatmulT(xp, M, K, cp, ap, tp, shift, N, yp, groupCols, scratch, rowBlock, K_BLOCK, tile);
    else k.nf4MatmulN(xp, M, N, cp, ap, tp, shift, K, yp, groupCols, scratch, rowBlock, K_BLOCK, tile);
  } finally {
    backend.wasm._free(scratch);
  }
  return out;
}

function dense(backend: WasmBackendLike, { packed, absmax, tables }: Args['inputs'], { N, K, shift }: Nf4Attrs): TensorInfo {
  const out = backend.makeOutput([N, K], 'float32');
  if (N * K === 0) return out;
  const ptr = (t: TensorInfo) => backend.getMemoryOffset(t.dataId);
  (kernelsFor(backend) as unknown as Nf4Exports).nf4Dequant(ptr(packed), ptr(absmax), ptr(tables), K, shift, 0, N, 0, K, ptr(out), K * 4, 4);
  return out;
}

/** Runs the kernel: x [M, K] → [M, N] forward, dy [M, N] → [M, K] backward, W [N, K] dense. */
export function nf4Product(x: tf.Tensor2D, w: { packed: tf.Tensor; absmax: tf.Tensor; tables: tf.Tensor }, attrs: Nf4Attrs): tf.Tensor2D {
  return tf.engine().runKernel(NF4_MATMUL, { x, packed: w.packed, absmax: w.absmax, tables: w.tables },
    attrs as unknown as tf.NamedAttrMap) as tf.Tensor2D;
}
