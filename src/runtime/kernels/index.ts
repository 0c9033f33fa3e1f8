/**
 * Fast matmul kernels for the tfjs wasm backend (issue 5, "Attention at kernel speed").
 *
 * `installWasmKernels()` replaces the wasm backend's BatchMatMul (and the unfused case of _FusedMatMul)
 * with the SIMD kernels of kernels/matmul.ts; it also replaces the copying Identity (and same-dtype Cast)
 * with one that shares the buffer, and the vector-broadcast Multiply and GatherV2 with row-wise versions
 * (elementwise.ts). Everything that multiplies matrices goes through the two matmul kernels, including the gradients tfjs-core derives for them (matMul's gradient is matMul with
 * transposes), so autodiff runs on the fast path without any change to model code.
 * The built-in kernels stay registered behind ours as the fallback for inputs we do not take
 * (non-float32 dtypes, fused bias/activation) and are restored by `uninstallWasmKernels()`. It also registers
 * the products with 16-bit frozen weights (half-matmul.ts), which have no built-in counterpart.
 */
import * as tf from '../tf.js';
import type { KernelConfig, KernelFunc, TensorInfo } from '../tf.js';
import { wasmBatchMatMul } from './batch-matmul.js';
import { ELEMENTWISE } from './elementwise.js';
import { DECODE_KERNELS } from './decode.js';
import { HALF_KERNELS } from './half-matmul.js';
import { guardWasmHeap } from './heap.js';
import { backendMemory, compileKernels, kernelsFor, type WasmBackendLike } from './wasm-module.js';

export interface InstallResult {
  installed: boolean;
  /** Why nothing was installed (another backend, kernels not built...). */
  reason?: string;
}

interface MatMulArgs {
  inputs: { a: TensorInfo; b: TensorInfo; bias?: TensorInfo | null; preluActivationWeights?: TensorInfo | null };
  backend: unknown;
  attrs: { transposeA: boolean; transposeB: boolean; activation?: string };
}

/** Our kernel for each taken name, built around the built-in it falls back to. */
const TAKEN: Record<string, (builtin: KernelConfig) => KernelFunc> = {
  [tf.BatchMatMul]: replacement,
  [tf._FusedMatMul]: replacement,
  [tf.Identity]: sharedIdentity,
  [tf.Cast]: sharedCast,
  ...ELEMENTWISE,
};
/** The built-in configs we replaced, by kernel name; empty when nothing is installed. */
const builtins = new Map<string, KernelConfig>();

/** True when our kernels currently serve BatchMatMul on the wasm backend. */
export function wasmKernelsInstalled(): boolean {
  return builtins.size > 0;
}

/** Installs the SIMD matmul kernels on the active wasm backend; idempotent; a no-op elsewhere. */
export function installWasmKernels(): InstallResult {
  if (tf.getBackend() !== 'wasm') {
    return { installed: false, reason: `the active backend is ${tf.getBackend()}, not wasm` };
  }
  const backend = tf.backend() as unknown as WasmBackendLike;
  // Checked allocation first, whatever becomes of the kernels: it is what keeps exhaustion from computing garbage.
  guardWasmHeap(backend.wasm);
  if (builtins.size > 0) return { installed: true };
  if (!backendMemory(backend)) return { installed: false, reason: 'the wasm backend exposes no wasm Memory' };
  try {
    compileKernels();
    kernelsFor(backend);
  } catch (e) {
    return { installed: false, reason: (e as Error).message };
  }
  // New kernels, not replacements: the products with 16-bit frozen weights (half-matmul.ts), the fused decode ones.
  for (const config of [...HALF_KERNELS, ...DECODE_KERNELS]) tf.registerKernel(config);
  for (const [name, ours] of Object.entries(TAKEN)) {
    const builtin = tf.getKernel(name, 'wasm');
    if (!builtin) continue;
    builtins.set(name, builtin);
    tf.unregisterKernel(name, 'wasm');
    tf.registerKernel({ kernelName: name, backendName: 'wasm', kernelFunc: ours(builtin) });
  }
  return { installed: true };
}

/** Restores the built-in kernels (benchmarks compare against them; tests restore a clean state). The heap guard stays. */
export function uninstallWasmKernels(): void {
  for (const [name, builtin] of builtins) {
    tf.unregisterKernel(name, 'wasm');
    // The built-in's setupFunc already ran when the backend started; its cwrap handle is still live.
    tf.registerKernel({ kernelName: name, backendName: 'wasm', kernelFunc: builtin.kernelFunc });
  }
  builtins.clear();
  for (const { kernelName } of [...HALF_KERNELS, ...DECODE_KERNELS]) if (tf.getKernel(kernelName, 'wasm')) tf.unregisterKernel(kernelName, 'wasm');
}

/**
 * Identity that shares its input's buffer (one more reference on the same dataId), as the cpu backend's
 * does. The built-in wasm Identity copies, and tfjs runs Identity for every tensor the tape saves for the
 * backward pass (about 1,800 copies per reference training step). Sharing is safe because no wasm
 * kernel writes into its inputs and tfjs never mutates a buffer in place (Variable.assign swaps dataIds);
 * the backend already shares buffers this way for Reshape.
 */
function sharedIdentity(builtin: KernelConfig): KernelFunc {
  return ((args: { inputs: { x: TensorInfo }; backend: { incRef(dataId: object): void } }) => {
    const { x } = args.inputs;
    if (x.dtype === 'string') return builtin.kernelFunc(args as unknown as Parameters<KernelFunc>[0]);
    args.backend.incRef(x.dataId);
    return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
  }) as unknown as KernelFunc;
}

/**
 * Cast to the dtype the tensor already has is an Identity: tfjs's gradients cast the other operand of every
 * Multiply to float32 (about 90 same-dtype casts of activations per reference step), which the built-in
 * copies. Real conversions keep the built-in.
 */
function sharedCast(builtin: KernelConfig): KernelFunc {
  const identity = sharedIdentity(builtin);
  return ((args: { inputs: { x: TensorInfo }; attrs: { dtype: string }; backend: unknown }) =>
    args.inputs.x.dtype === args.attrs.dtype ? identity(args as unknown as Parameters<KernelFunc>[0]) : builtin.kernelFunc(args as unknown as Parameters<KernelFunc>[0])) as unknown as KernelFunc;
}

function replacement(builtin: KernelConfig): KernelFunc {
  return ((args: MatMulArgs) => {
    const { a, b, bias, preluActivationWeights } = args.inputs;
    const { transposeA, transposeB, activation } = args.attrs;
    const plain = bias == null && preluActivationWeights == null && (activation == null || activation === 'linear');
    if (a.dtype !== 'float32' || b.dtype !== 'float32' || !plain) {
      return builtin.kernelFunc(args as unknown as Parameters<KernelFunc>[0]);
    }
    return wasmBatchMatMul(args.backend as WasmBackendLike, a, b, transposeA, transposeB);
  }) as unknown as KernelFunc;
}
