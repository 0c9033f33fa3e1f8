/**
 * How a 4-bit linear weight is held: packed, read by ftc's wasm kernels, where they serve the backend — in the
 * wasm heap (Nf4Weight), or on the host and staged into the heap per product (StreamedNf4Weight) when the
 * memory plan says the model streams; elsewhere dequantized once to float32 (F32Weight). Training sees the same
 * 4-bit-rounded weights every way: code · absmax in f32, exactly what the kernel computes.
 */
import { F32Weight, type FrozenWeight } from '../model/frozen-weight.js';
import * as tf from '../tf.js';
import { nf4KernelAvailable } from './nf4-kernel.js';
import { Nf4Weight } from './nf4-weight.js';
import { dequantize4bit, type Quantized4bit } from './quantize4bit.js';
import { StreamedNf4Weight } from './streamed-nf4-weight.js';

/** `streamed`: the plan's decision (src/model-spec/memory.ts frozenPlacement); only the wasm kernels can stream. */
export function frozen4bit(q: Quantized4bit, opts: { streamed?: boolean } = {}): FrozenWeight {
  if (nf4KernelAvailable()) return opts.streamed ? new StreamedNf4Weight(q) : new Nf4Weight(q);
  return new F32Weight(tf.tensor2d(dequantize4bit(q), q.shape as [number, number]));
}
