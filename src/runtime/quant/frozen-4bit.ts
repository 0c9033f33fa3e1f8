/**
 * How a 4-bit linear weight is held on the device: packed, read by ftc's wasm kernels (Nf4Weight), where they
 * serve the backend; elsewhere dequantized once to float32 (F32Weight). Training sees the same 4-bit-rounded
 * weights either way: code · absmax in f32, exactly what the kernel computes.
 */
import { F32Weight, type FrozenWeight } from '../model/frozen-weight.js';
import * as tf from '../tf.js';
import { nf4KernelAvailable } from './nf4-kernel.js';
import { Nf4Weight } from './nf4-weight.js';
import { dequantize4bit, type Quantized4bit } from './quantize4bit.js';

export function frozen4bit(q: Quantized4bit): FrozenWeight {
  if (nf4KernelAvailable()) return new Nf4Weight(q);
  return new F32Weight(tf.tensor2d(dequantize4bit(q), q.shape as [number, number]));
}
