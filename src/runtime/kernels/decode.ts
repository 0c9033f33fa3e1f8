/**
 * Fused inference kernels for decoding with a KV cache, on the wasm backend (kernels/decode.ts):
 *   FtcRmsNorm    x [N, E], weight [E] → RMSNorm(x)·weight                    (attrs: eps)
 *   FtcSwiGLU     gate, up [N, F] → silu(gate)·up
 *   FtcRope       x [B, T, heads, D], cos, sin [1, T, 1, D] → rotated x
 *   FtcAttention  q [B, T, H, D], k, v [B, S, KV, D] → causal softmax(q·kᵀ/√D)·v [B, T, H, D]
 *   FtcAppend     past [B, S, KV, D], next [B, T, KV, D] → [B, S + T, KV, D] (the KV cache's concat on axis 1,
 *                 two block copies per batch row; tfjs's wasm concat on an inner axis shapes and copies in JS)
 * A one-token step of a small model is dominated by tfjs's cost per op, not by arithmetic (the reference model
 * ran ~60 ops per layer per token, most under 10 µs of work); these replace about 30 of them.
 *
 * They have no gradients: llama.ts calls them only on the cached inference path (`step`, for generate and
 * score), never where autodiff runs. Elsewhere, and on every other backend, the tfjs op chains stay.
 */
import * as tf from '../tf.js';
import type { KernelConfig, TensorInfo } from '../tf.js';
import { allocScratch } from './batch-matmul.js';
import { kernelsFor, type WasmBackendLike } from './wasm-module.js';

export const RMS_NORM = 'FtcRmsNorm';
export const SWIGLU = 'FtcSwiGLU';
export const ROPE = 'FtcRope';
export const ATTENTION = 'FtcAttention';
export const APPEND = 'FtcAppend';

/** The exports of kernels/decode.ts; pointers are byte offsets into the backend's memory. */
export interface DecodeExports {
  rmsNorm(x: number, w: number, y: number, rows: number, E: number, eps: number): void;
  swiglu(g: number, u: number, y: number, count: number): void;
  rope(x: number, cos: number, sin: number, y: number, rows: number, heads: number, D: number, T: number): void;
  attention(q: number, k: number, v: number, y: number, B: number, T: number, S: number, H: number, KV: number, D: number, scale: number, scores: number): void;
}

interface Args {
  inputs: Record<string, TensorInfo>;
  backend: unknown;
  attrs: Record<string, unknown>;
}

function kernel(kernelName: string, body: (k: DecodeExports, b: WasmBackendLike, inputs: Record<string, TensorInfo>, attrs: Record<string, unknown>) => TensorInfo): KernelConfig {
  const kernelFunc = ({ inputs, backend, attrs }: Args): TensorInfo => {
    const b = backend as WasmBackendLike;
    for (const t of Object.values(inputs)) if (t.dtype !== 'float32') throw new Error(`${kernelName}: inputs must be float32, got ${t.dtype}`);
    return body(kernelsFor(b) as unknown as DecodeExports, b, inputs, attrs);
  };
  return { kernelName, backendName: 'wasm', kernelFunc: kernelFunc as unknown as KernelConfig['kernelFunc'] };
}

const ptr = (b: WasmBackendLike, t: TensorInfo): number => b.getMemoryOffset(t.dataId);
const size = (shape: number[]): number => shape.reduce((a, c) => a * c, 1);

const rmsNormKernel = kernel(RMS_NORM, (k, b, { x, weight }, { eps }) => {
  const E = x.shape[x.shape.length - 1]!;
  const out = b.makeOutput([...x.shape], 'float32');
  k.rmsNorm(ptr(b, x), ptr(b, weight), ptr(b, out), size(x.shape) / E, E, eps as number);
  return out;
});

const swigluKernel = kernel(SWIGLU, (k, b, { gate, up }) => {
  const out = b.makeOutput([...gate.shape], 'float32');
  k.swiglu(ptr(b, gate), ptr(b, up), ptr(b, out), size(gate.shape));
  return out;
});

const ropeKernel = kernel(ROPE, (k, b, { x, cos, sin }) => {
  const [B, T, heads, D] = x.shape as [number, number, number, number];
  const out = b.makeOutput([...x.shape], 'float32');
  k.rope(ptr(b, x), ptr(b, cos), ptr(b, sin), ptr(b, out), B * T, heads, D, T);
  return out;
});

const attentionKernel = kernel(ATTENTION, (k, b, { q, k: keys, v }) => {
  const [B, T, H, D] = q.shape as [number, number, number, number];
  const [, S, KV] = keys.shape as [number, number, number, number];
  const out = b.makeOutput([B, T, H, D], 'float32');
  if (B * T * H * D === 0) return out;
  const scores = allocScratch(b, S * 4 + 16, out);
  try {
    k.attention(ptr(b, q), ptr(b, keys), ptr(b, v), ptr(b, out), B, T, S, H, KV, D, 1 / Math.sqrt(D), scores);
  } finally {
    b.wasm._free(scores);
  }
  return out;
});

const appendKernel = kernel(APPEND, (_k, b, { past, next }) => {
  const [B, S, ...rest] = past.shape;
  const T = next.shape[1]!;
  const row = rest.reduce((a, c) => a * c, 1) * 4; // bytes per position
  const out = b.makeOutput([B!, S! + T, ...rest], 'float32');
  // Read after the output's allocation, which may have grown (and so replaced) the heap's buffer.
  const heap = new Uint8Array(b.wasm.HEAPF32.buffer);
  const [pp, np, op] = [ptr(b, past), ptr(b, next), ptr(b, out)];
  for (let i = 0; i < B!; i++) {
    const dst = op + i * (S! + T) * row;
    heap.copyWithin(dst, pp + i * S! * row, pp + (i + 1) * S! * row);
    heap.copyWithin(dst + S! * row, np + i * T * row, np + (i + 1) * T * row);
  }
  return out;
});

/** The kernels installWasmKernels registers on the wasm backend. */
export const DECODE_KERNELS: KernelConfig[] = [rmsNormKernel, swigluKernel, ropeKernel, attentionKernel, appendKernel];

/** True when the fused kernels serve the active backend (wasm with ftc's kernels installed). */
export function decodeKernelsAvailable(): boolean {
  return tf.getBackend() === 'wasm' && tf.getKernel(RMS_NORM, 'wasm') !== undefined;
}

/** RMSNorm over the last axis: x [..., E], weight [E]. */
export function fusedRmsNorm<T extends tf.Tensor>(x: T, weight: tf.Tensor1D, eps: number): T {
  return tf.engine().runKernel(RMS_NORM, { x, weight }, { eps }) as T;
}

/** silu(gate) · up, elementwise, same shapes. */
export function fusedSwiGLU<T extends tf.Tensor>(gate: T, up: T): T {
  return tf.engine().runKernel(SWIGLU, { gate, up }, {}) as T;
}

/** x [B, T, heads, D] rotated by the tables cos, sin [1, T, 1, D] (sin with rotate_half's sign). */
export function fusedRope(x: tf.Tensor4D, cos: tf.Tensor4D, sin: tf.Tensor4D): tf.Tensor4D {
  return tf.engine().runKernel(ROPE, { x, cos, sin }, {}) as tf.Tensor4D;
}

/** Causal attention of q [B, T, H, D] over k, v [B, S, KV, D] (the T newest positions last): [B, T, H, D]. */
export function cachedAttention(q: tf.Tensor4D, k: tf.Tensor4D, v: tf.Tensor4D): tf.Tensor4D {
  return tf.engine().runKernel(ATTENTION, { q, k, v }, {}) as tf.Tensor4D;
}

/** past [B, S, KV, D] followed by next [B, T, KV, D] along the positions: [B, S + T, KV, D]. */
export function appendPositions(past: tf.Tensor4D, next: tf.Tensor4D): tf.Tensor4D {
  return tf.engine().runKernel(APPEND, { past, next }, {}) as tf.Tensor4D;
}
