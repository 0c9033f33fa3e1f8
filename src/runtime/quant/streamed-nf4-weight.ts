/**
 * A 4-bit frozen weight whose state lives in HOST memory (issue 14: a Llama-2-7B base in NF4 is ~3.9 GB, past
 * the 32-bit wasm heap's ~3.8 GiB before any activation). The packed codes, the f32 absmax per block and the
 * code tables are typed arrays on the JS side; every product uploads them into the heap, runs the same
 * Nf4MatMul kernel as Nf4Weight (nf4-kernel.ts) and frees them before it returns. The heap therefore holds at
 * most one linear's 4-bit state at a time (its staging), whatever the number of layers.
 *
 * Backward re-uploads: FrozenLinear's custom gradient calls `backward`, which stages the weight again, so the
 * tape never keeps an uploaded copy alive between the forward and the backward pass. The numbers are those of
 * Nf4Weight bit for bit (same kernel, same inputs). The memory plan decides when a model streams
 * (src/model-spec/memory.ts frozenPlacement); the build only follows it.
 */
import type { FrozenWeight } from '../model/frozen-weight.js';
import * as tf from '../tf.js';
import { nf4KernelAvailable, nf4Product, nf4Tables, type Nf4Attrs } from './nf4-kernel.js';
import { blockAbsmax, type QuantType, type Quantized4bit } from './quantize4bit.js';

export class StreamedNf4Weight implements FrozenWeight {
  readonly format: QuantType;
  readonly inFeatures: number;
  readonly outFeatures: number;
  /** The codes padded to whole int32 words (the GEMV reads four bytes at a time), as Nf4Weight uploads them. */
  private packed: Int32Array;
  /** f32 absmax per block, rebuilt once from the double-quantized state (1/16 byte a weight; saves a rebuild per product). */
  private absmax: Float32Array;
  private readonly tables: Float32Array;
  private readonly shift: number;

  constructor(q: Quantized4bit) {
    if (q.shape.length !== 2) throw new Error(`StreamedNf4Weight: a linear weight is [out, in], got [${q.shape}]`);
    if (!nf4KernelAvailable()) throw new Error('StreamedNf4Weight needs the wasm backend with ftc\'s kernels installed (frozen4bit falls back to f32 elsewhere)');
    this.format = q.quantType;
    [this.outFeatures, this.inFeatures] = q.shape;
    this.shift = Math.log2(q.blocksize);
    // A view when the codes already are whole aligned words (every real linear): no second host copy.
    if (q.packed.length % 4 === 0 && q.packed.byteOffset % 4 === 0) {
      this.packed = new Int32Array(q.packed.buffer, q.packed.byteOffset, q.packed.length / 4);
    } else {
      const bytes = new Uint8Array(Math.ceil(q.packed.length / 4) * 4);
      bytes.set(q.packed);
      this.packed = new Int32Array(bytes.buffer);
    }
    this.absmax = blockAbsmax(q);
    this.tables = nf4Tables(q.code);
  }

  /** Backend memory held between products: none (the staging copy is freed inside each product). */
  get byteSize(): number {
    return 0;
  }

  /** Host memory this weight holds: its codes, absmax and tables. */
  get hostBytes(): number {
    return this.packed.byteLength + this.absmax.byteLength + this.tables.byteLength;
  }

  /** Heap bytes one product stages: what `byteSize` would be for a resident Nf4Weight. */
  get stagingBytes(): number {
    return this.hostBytes;
  }

  private run(x: tf.Tensor2D | undefined, direction: Nf4Attrs['direction']): tf.Tensor2D {
    if (this.packed.length === 0 && this.outFeatures * this.inFeatures > 0) throw new Error('StreamedNf4Weight used after dispose()');
    // Created and freed here: the kernel's output is the only tensor that outlives the call.
    const packed = tf.tensor1d(this.packed, 'int32');
    const absmax = tf.tensor1d(this.absmax, 'float32');
    const tables = tf.tensor1d(this.tables, 'float32');
    try {
      const attrs = { N: this.outFeatures, K: this.inFeatures, shift: this.shift, direction };
      return nf4Product(x ?? (tables as unknown as tf.Tensor2D), { packed, absmax, tables }, attrs);
    } finally {
      tf.dispose([packed, absmax, tables]);
    }
  }

  forward(x: tf.Tensor2D): tf.Tensor2D {
    return this.run(x, 'forward'); // [M,in] → [M,out]
  }

  backward(dy: tf.Tensor2D): tf.Tensor2D {
    return this.run(dy, 'backward'); // [M,out] → [M,in]
  }

  /** Never on the hot path (the LM head is not quantized): via the dense weight. */
  rows(indices: tf.Tensor1D): tf.Tensor2D {
    return tf.tidy(() => tf.gather(this.dense(), indices));
  }

  /** W [out, in] decoded by the kernel into a fresh tensor (DoRA's row norms). */
  dense(): tf.Tensor2D {
    return this.run(undefined, 'dense');
  }

  /** Drops the host arrays (the garbage collector frees them). */
  dispose(): void {
    this.packed = new Int32Array(0);
    this.absmax = new Float32Array(0);
  }
}
