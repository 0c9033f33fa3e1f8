import { writeSync } from 'node:fs';
import { writeFileAtomic } from '../atomic-file.js';
import { encodeBf16, encodeF16 } from '../model/half.js';
import { elementCount } from '../../model-spec/shape.js';

/**
 * The GGUF v3 container (ggml's docs/gguf.md), little-endian throughout:
 *
 *     "GGUF" u32 version=3, u64 tensor_count, u64 kv_count
 *     kv_count × (string key, u32 value_type, value)
 *     tensor_count × (string name, u32 n_dims, u64 ne[n_dims], u32 ggml_type, u64 offset)
 *     padding to `alignment`, then the data section; each tensor's offset (relative to the
 *     section) is a multiple of `alignment`.
 *
 * A string is u64 length + UTF-8 bytes; an array is u32 item type, u64 count, items.
 * ne[0] is the fastest-varying dimension, so a row-major [rows, cols] matrix has ne = [cols, rows].
 */

export const GGUF_MAGIC = 0x46554747; // "GGUF" read as a little-endian u32
export const GGUF_VERSION = 3;
export const GGUF_ALIGNMENT = 32;

/** gguf_type: the metadata value types. */
export const GgufValueType = { u8: 0, i8: 1, u16: 2, i16: 3, u32: 4, i32: 5, f32: 6, bool: 7, string: 8, array: 9, u64: 10, i64: 11, f64: 12 } as const;
type Scalar = 'u32' | 'i32' | 'f32' | 'bool' | 'string';

export type GgufValue =
  | { type: 'u32' | 'i32' | 'f32'; value: number }
  | { type: 'bool'; value: boolean }
  | { type: 'string'; value: string }
  | { type: 'array'; itemType: 'i32' | 'u32' | 'f32'; value: ArrayLike<number> }
  | { type: 'array'; itemType: 'string'; value: readonly string[] };

/** ggml_type ids of the tensor types ftc writes. */
export const GgmlType = { F32: 0, F16: 1, Q8_0: 8, BF16: 30 } as const;
export type GgmlTypeName = keyof typeof GgmlType;

/** Elements per Q8_0 block; a block is an f16 scale followed by 32 int8 values (34 bytes). */
export const Q8_0_BLOCK = 32;
const Q8_0_BYTES = 2 + Q8_0_BLOCK;

export interface GgufTensor {
  name: string;
  /** Row-major shape as PyTorch stores it ([out, in] for a linear weight); reversed into ne on write. */
  shape: number[];
  type: GgmlTypeName;
  data: Float32Array;
}

/** Bytes a tensor of `count` elements takes in `type`. */
export function tensorBytes(type: GgmlTypeName, count: number): number {
  switch (type) {
    case 'F32': return 4 * count;
    case 'F16': case 'BF16': return 2 * count;
    case 'Q8_0':
      if (count % Q8_0_BLOCK !== 0) throw new Error(`Q8_0 needs a multiple of ${Q8_0_BLOCK} elements, got ${count}`);
      return (count / Q8_0_BLOCK) * Q8_0_BYTES;
  }
}

/**
 * Q8_0 as ggml's quantize_row_q8_0_ref and gguf-py quantize it: per block of 32, d = max|x| / 127,
 * q = round(x / d) (half away from zero), and d stored as f16 (q is computed with the unrounded d).
 */
export function quantizeQ8_0(x: Float32Array): Buffer {
  const out = Buffer.alloc(tensorBytes('Q8_0', x.length));
  for (let b = 0; b < x.length / Q8_0_BLOCK; b++) {
    let amax = 0;
    for (let i = 0; i < Q8_0_BLOCK; i++) amax = Math.max(amax, Math.abs(x[b * Q8_0_BLOCK + i]!));
    const d = Math.fround(amax / 127);
    const id = d === 0 ? 0 : Math.fround(1 / d);
    const at = b * Q8_0_BYTES;
    out.writeUInt16LE(encodeF16(d), at);
    for (let i = 0; i < Q8_0_BLOCK; i++) {
      const v = Math.fround(x[b * Q8_0_BLOCK + i]! * id);
      out.writeInt8(Math.sign(v) * Math.floor(Math.abs(v) + 0.5), at + 2 + i);
    }
  }
  return out;
}

/** A tensor's bytes in its GGUF type. */
export function encodeTensor(t: GgufTensor): Buffer {
  const { data } = t;
  switch (t.type) {
    case 'F32': return Buffer.from(data.buffer, data.byteOffset, data.byteLength);
    case 'F16': case 'BF16': {
      const encode = t.type === 'F16' ? encodeF16 : encodeBf16;
      const out = Buffer.alloc(2 * data.length);
      for (let i = 0; i < data.length; i++) out.writeUInt16LE(encode(data[i]!), 2 * i);
      return out;
    }
    case 'Q8_0': return quantizeQ8_0(data);
  }
}

/** Appends little-endian values to a growing list of chunks. */
class ByteSink {
  readonly chunks: Buffer[] = [];
  length = 0;
  private push(b: Buffer): void {
    this.chunks.push(b);
    this.length += b.length;
  }
  u32(v: number): void { const b = Buffer.alloc(4); b.writeUInt32LE(v); this.push(b); }
  i32(v: number): void { const b = Buffer.alloc(4); b.writeInt32LE(v); this.push(b); }
  u64(v: number): void { const b = Buffer.alloc(8); b.writeBigUInt64LE(BigInt(v)); this.push(b); }
  f32(v: number): void { const b = Buffer.alloc(4); b.writeFloatLE(v); this.push(b); }
  bool(v: boolean): void { this.push(Buffer.from([v ? 1 : 0])); }
  string(s: string): void { const b = Buffer.from(s, 'utf8'); this.u64(b.length); this.push(b); }
  scalar(type: Scalar, v: number | boolean | string): void {
    switch (type) {
      case 'u32': this.u32(v as number); break;
      case 'i32': this.i32(v as number); break;
      case 'f32': this.f32(v as number); break;
      case 'bool': this.bool(v as boolean); break;
      case 'string': this.string(v as string); break;
    }
  }
  pad(alignment: number): void {
    const n = (alignment - (this.length % alignment)) % alignment;
    if (n > 0) this.push(Buffer.alloc(n));
  }
}

/**
 * Writes a GGUF file: metadata in insertion order, tensors in the order given, to `path` through a
 * temporary file renamed into place (a crash never leaves a half-written model under the final name).
 * Tensors are encoded one at a time, so only one converted copy is in memory at once.
 */
export function writeGguf(path: string, metadata: Map<string, GgufValue>, tensors: GgufTensor[], alignment = GGUF_ALIGNMENT): number {
  const head = new ByteSink();
  head.u32(GGUF_MAGIC);
  head.u32(GGUF_VERSION);
  head.u64(tensors.length);
  head.u64(metadata.size);
  for (const [key, v] of metadata) {
    head.string(key);
    head.u32(GgufValueType[v.type]);
    if (v.type !== 'array') {
      head.scalar(v.type, v.value);
      continue;
    }
    head.u32(GgufValueType[v.itemType]);
    head.u64(v.value.length);
    for (let i = 0; i < v.value.length; i++) head.scalar(v.itemType, v.value[i]!);
  }
  let offset = 0;
  const offsets: number[] = [];
  for (const t of tensors) {
    const count = elementCount(t.shape);
    if (count !== t.data.length) throw new Error(`tensor ${t.name}: shape [${t.shape}] does not hold ${t.data.length} values`);
    head.string(t.name);
    head.u32(t.shape.length);
    for (const d of [...t.shape].reverse()) head.u64(d);
    head.u32(GgmlType[t.type]);
    head.u64(offset);
    offsets.push(offset);
    offset += tensorBytes(t.type, count);
    offset += (alignment - (offset % alignment)) % alignment;
  }
  head.pad(alignment);

  writeFileAtomic(path, (fd) => {
    for (const c of head.chunks) writeSync(fd, c);
    let written = 0;
    tensors.forEach((t, i) => {
      if (offsets[i]! > written) writeSync(fd, Buffer.alloc(offsets[i]! - written));
      const bytes = encodeTensor(t);
      writeSync(fd, bytes);
      written = offsets[i]! + bytes.length;
    });
    if (offset > written) writeSync(fd, Buffer.alloc(offset - written));
  });
  return head.length + offset;
}
