/**
 * Two wasm kernels whose built-in versions take a generic per-element path for shapes the model uses on
 * every step (measured on the reference training step's shapes, wasm, one thread):
 *  - Multiply of [..., E] by a weight vector [E] (RMSNorm's weight, forward and backward): 3.1 ms for
 *    [512, 256] × [256], against 0.06 ms for two [512, 256] operands, because the built-in broadcasts by
 *    recomputing indices for every element;
 *  - GatherV2 (the token embedding, the loss's target pick): 9.9 ms to gather 512 rows of a [2048, 256]
 *    table, which is 512 contiguous row copies.
 * Both work in the backend's heap and return ordinary wasm tensors; every other case goes to the built-in.
 */
import * as tf from '../tf.js';
import type { KernelConfig, KernelFunc, TensorInfo } from '../tf.js';
import { elementCount } from '../../model-spec/shape.js';

interface HeapBackend {
  makeOutput(shape: number[], dtype: string): TensorInfo;
  typedArrayFromHeap(t: TensorInfo): Float32Array | Int32Array | Uint8Array;
  readSync(dataId: object): ArrayLike<number>;
}

/** True when `v` is a vector over the last axis of `x` (shape [E] or [1, ..., 1, E]) and `x` is bigger. */
function trailingVector(x: TensorInfo, v: TensorInfo): boolean {
  const e = x.shape[x.shape.length - 1];
  return x.shape.length >= 2 && v.shape.length >= 1 && v.shape.length <= x.shape.length &&
    v.shape[v.shape.length - 1] === e && elementCount(v.shape) === e && e > 0;
}

/** Multiply with the [..., E] × [E] case done as rows times one vector. */
export function multiplyKernel(builtin: KernelConfig): KernelFunc {
  return ((args: { inputs: { a: TensorInfo; b: TensorInfo }; backend: HeapBackend }) => {
    const { a, b } = args.inputs;
    if (a.dtype === 'float32' && b.dtype === 'float32') {
      const [x, v] = trailingVector(a, b) ? [a, b] : trailingVector(b, a) ? [b, a] : [undefined, undefined];
      if (x && v) {
        const backend = args.backend;
        const out = backend.makeOutput(x.shape.slice(), 'float32');
        const xs = backend.typedArrayFromHeap(x) as Float32Array;
        const vs = backend.typedArrayFromHeap(v) as Float32Array;
        const os = backend.typedArrayFromHeap(out) as Float32Array;
        const e = vs.length;
        for (let base = 0; base < xs.length; base += e) {
          for (let j = 0; j < e; j++) os[base + j] = xs[base + j]! * vs[j]!;
        }
        return out;
      }
    }
    return builtin.kernelFunc(args as unknown as Parameters<KernelFunc>[0]);
  }) as unknown as KernelFunc;
}

/** GatherV2 without batch dims, as contiguous slice copies; out-of-range indices go to the built-in's error. */
export function gatherKernel(builtin: KernelConfig): KernelFunc {
  return ((args: { inputs: { x: TensorInfo; indices: TensorInfo }; backend: HeapBackend; attrs: { axis: number; batchDims: number } }) => {
    const { x, indices } = args.inputs;
    const { batchDims } = args.attrs;
    const axis = args.attrs.axis < 0 ? args.attrs.axis + x.shape.length : args.attrs.axis;
    const plain = (batchDims ?? 0) === 0 && (x.dtype === 'float32' || x.dtype === 'int32') && indices.dtype === 'int32' &&
      axis >= 0 && axis < x.shape.length;
    if (plain) {
      const backend = args.backend;
      const idx = backend.typedArrayFromHeap(indices) as Int32Array;
      const dim = x.shape[axis]!;
      let valid = true;
      for (let i = 0; i < idx.length; i++) if (!(idx[i]! >= 0 && idx[i]! < dim)) valid = false;
      if (valid) {
        const outer = elementCount(x.shape.slice(0, axis));
        const inner = elementCount(x.shape.slice(axis + 1));
        const out = backend.makeOutput([...x.shape.slice(0, axis), ...indices.shape, ...x.shape.slice(axis + 1)], x.dtype);
        // Allocating may have grown the heap, detaching views taken before: take them all again.
        const ids = backend.typedArrayFromHeap(indices) as Int32Array;
        const xs = backend.typedArrayFromHeap(x);
        const os = backend.typedArrayFromHeap(out);
        let o = 0;
        for (let p = 0; p < outer; p++) {
          const from = p * dim * inner;
          for (let i = 0; i < ids.length; i++) {
            const start = from + ids[i]! * inner;
            if (inner === 1) os[o] = xs[start]!;
            else os.set(xs.subarray(start, start + inner), o);
            o += inner;
          }
        }
        return out;
      }
    }
    return builtin.kernelFunc(args as unknown as Parameters<KernelFunc>[0]);
  }) as unknown as KernelFunc;
}

/** The replacements by kernel name, for kernels/index.ts to install. */
export const ELEMENTWISE: Record<string, (builtin: KernelConfig) => KernelFunc> = {
  [tf.Multiply]: multiplyKernel,
  [tf.GatherV2]: gatherKernel,
};
