import { closeSync, existsSync, fstatSync, openSync, readFileSync, readSync, writeSync } from 'node:fs';
import { endianness } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { FtcError } from '../../errors.js';
import { writeFileAtomic } from '../atomic-file.js';
import type { HostTensor } from './api.js';
import { decodeBf16Into, decodeF16Into, encodeBf16, encodeF16, halfHostTensor } from './half.js';
import { elementCount } from '../../model-spec/shape.js';

/**
 * The safetensors format (https://huggingface.co/docs/safetensors): an 8-byte little-endian
 * header length N, N bytes of JSON `{name: {dtype, shape, data_offsets: [begin, end]}, __metadata__?}`,
 * then the data section, offsets relative to its start. Everything in the header is untrusted:
 * it is checked against the file size before a single tensor byte is allocated.
 */

/** Larger headers are refused before reading them (HF's own limit is 100 MB). */
export const MAX_HEADER_BYTES = 100_000_000;

/** Element sizes of every dtype safetensors defines; ftc reads the float ones. */
const DTYPE_BYTES: Record<string, number> = {
  F64: 8, F32: 4, F16: 2, BF16: 2, I64: 8, I32: 4, I16: 2, I8: 1, U64: 8, U32: 4, U16: 2, U8: 1, BOOL: 1,
  F8_E4M3: 1, F8_E5M2: 1,
};

export type WriteDtype = 'F32' | 'F16' | 'BF16';

export interface TensorInfo {
  dtype: string;
  shape: number[];
  /** Absolute byte range in the file (header already added). */
  begin: number;
  end: number;
}

export interface SafetensorsHeader {
  file: string;
  fileSize: number;
  /** Byte offset of the data section. */
  dataStart: number;
  tensors: Map<string, TensorInfo>;
  metadata: Record<string, string>;
}

export interface ReadOptions {
  /** Read only the tensors this accepts (others are validated in the header but never loaded). */
  filter?: (name: string) => boolean;
  /** F16/BF16 tensors this accepts stay 16-bit on the host (HostTensor.half; `data` decodes on demand). */
  keepHalf?: (name: string) => boolean;
}

/** Reads and validates the header only. */
export function readSafetensorsHeader(path: string): SafetensorsHeader {
  const fd = openOrThrow(path);
  try {
    return readHeader(fd, path);
  } finally {
    closeSync(fd);
  }
}

/**
 * Reads tensors, upcasting F16 and BF16 to float32 (unless `keepHalf` keeps them as read). Each tensor is read from the file straight into
 * its final Float32Array (half-precision ones through a small reused scratch buffer), so at most one
 * copy of the weights is ever in memory.
 */
export function readSafetensors(path: string, opts: ReadOptions = {}): Map<string, HostTensor> {
  const fd = openOrThrow(path);
  try {
    const header = readHeader(fd, path);
    const out = new Map<string, HostTensor>();
    const scratch = { buffer: undefined as Uint8Array | undefined };
    for (const [name, t] of header.tensors) {
      if (opts.filter && !opts.filter(name)) continue;
      out.set(name, readTensor(fd, path, name, t, opts.keepHalf?.(name) ?? false, scratch));
    }
    return out;
  } finally {
    closeSync(fd);
  }
}

/**
 * Reads one tensor whose header entry is already known (readSafetensorsHeader's `t`), the file opened for it
 * alone: what a loader uses that uploads each tensor as soon as it is read (weights.ts openWeights).
 */
export function readSafetensorsTensor(path: string, name: string, t: TensorInfo, keepHalf = false): HostTensor {
  const fd = openOrThrow(path);
  try {
    return readTensor(fd, path, name, t, keepHalf, { buffer: undefined });
  } finally {
    closeSync(fd);
  }
}

function readTensor(fd: number, path: string, name: string, t: TensorInfo, keepHalf: boolean, scratch: { buffer: Uint8Array | undefined }): HostTensor {
  if (endianness() !== 'LE') throw new Error('safetensors reading assumes a little-endian host');
  const count = elementCount(t.shape);
  if ((t.dtype === 'F16' || t.dtype === 'BF16') && keepHalf) {
    const bits = new Uint16Array(count + (count & 1)); // even: viewable as 32-bit words
    readFully(fd, new Uint8Array(bits.buffer, 0, 2 * count), t.begin, path);
    return halfHostTensor(t.shape, { format: t.dtype === 'F16' ? 'f16' : 'bf16', bits });
  }
  const data = new Float32Array(count);
  if (t.dtype === 'F32') {
    readFully(fd, new Uint8Array(data.buffer), t.begin, path);
  } else if (t.dtype === 'F16' || t.dtype === 'BF16') {
    const buf = (scratch.buffer ??= new Uint8Array(1 << 22));
    const perChunk = buf.length / 2;
    for (let done = 0; done < count; done += perChunk) {
      const n = Math.min(perChunk, count - done);
      readFully(fd, buf.subarray(0, 2 * n), t.begin + 2 * done, path);
      (t.dtype === 'F16' ? decodeF16Into : decodeBf16Into)(buf, n, data, done);
    }
  } else {
    throw new FtcError('E_SAFETENSORS_DTYPE', `tensor "${name}" has dtype ${t.dtype}; ftc reads F32, F16 and BF16`, { file: path },
      'convert the checkpoint to float16, bfloat16 or float32 (e.g. with transformers save_pretrained)');
  }
  return { shape: t.shape, data };
}

/**
 * Writes tensors (sorted by name) as HF does: header padded with spaces to a multiple of 8 bytes,
 * data packed in header order. Written to a temporary file and renamed, so a crash never leaves
 * a half-written file under the final name.
 */
export function writeSafetensors(
  path: string,
  tensors: Map<string, HostTensor & { dtype: WriteDtype }>,
  metadata?: Record<string, string>,
): void {
  const names = [...tensors.keys()].sort();
  const header: Record<string, unknown> = {};
  if (metadata && Object.keys(metadata).length > 0) header.__metadata__ = metadata;
  let offset = 0;
  for (const name of names) {
    const t = tensors.get(name)!;
    const count = elementCount(t.shape);
    if (count !== t.data.length) throw new Error(`tensor ${name}: shape [${t.shape}] does not match ${t.data.length} values`);
    const bytes = count * DTYPE_BYTES[t.dtype]!;
    header[name] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + bytes] };
    offset += bytes;
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - (Buffer.byteLength(json) % 8)) % 8);
  const jsonBytes = Buffer.from(json, 'utf8');
  const prefix = Buffer.alloc(8);
  prefix.writeBigUInt64LE(BigInt(jsonBytes.length));

  writeFileAtomic(path, (fd) => {
    writeSync(fd, prefix);
    writeSync(fd, jsonBytes);
    for (const name of names) writeTensor(fd, tensors.get(name)!);
  });
}

function writeTensor(fd: number, t: HostTensor & { dtype: WriteDtype }): void {
  if (t.dtype === 'F32') {
    writeSync(fd, new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength));
    return;
  }
  const encode = t.dtype === 'F16' ? encodeF16 : encodeBf16;
  const chunk = Buffer.alloc(Math.min(t.data.length, 1 << 20) * 2);
  for (let start = 0; start < t.data.length; start += chunk.length / 2) {
    const n = Math.min(chunk.length / 2, t.data.length - start);
    for (let i = 0; i < n; i++) chunk.writeUInt16LE(encode(t.data[start + i]!), 2 * i);
    writeSync(fd, chunk, 0, 2 * n);
  }
}

/**
 * Reads a sharded checkpoint's `model.safetensors.index.json`: tensor name → absolute shard path.
 * Shard names must be plain file names in the index's directory (no path tricks from an untrusted repo).
 */
export function readSafetensorsIndex(indexPath: string): Map<string, string> {
  const bad = (what: string): FtcError =>
    new FtcError('E_SAFETENSORS_INDEX', `invalid safetensors index: ${what}`, { file: indexPath }, 'the index must hold {"weight_map": {tensor: shard file}}');
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(indexPath, 'utf8'));
  } catch (e) {
    throw bad(`not valid JSON (${(e as Error).message})`);
  }
  const map = (json as { weight_map?: unknown } | null)?.weight_map;
  if (typeof map !== 'object' || map === null || Array.isArray(map)) throw bad('"weight_map" is missing or not an object');
  const dir = dirname(indexPath);
  const out = new Map<string, string>();
  for (const [name, shard] of Object.entries(map)) {
    if (typeof shard !== 'string' || shard === '' || shard !== basename(shard) || shard === '..' || shard === '.' || shard.includes('\\')) {
      throw bad(`tensor "${name}" maps to ${JSON.stringify(shard)}, which is not a file name in the same directory`);
    }
    out.set(name, join(dir, shard));
  }
  return out;
}

function openOrThrow(path: string): number {
  if (!existsSync(path)) throw new FtcError('E_SAFETENSORS_MISSING', `safetensors file not found: ${path}`, { file: path });
  return openSync(path, 'r');
}

/** Reads exactly `target.length` bytes at `position`; a short read means the file shrank or lied. */
function readFully(fd: number, target: Uint8Array, position: number, path: string): void {
  let done = 0;
  while (done < target.length) {
    // readSync caps a single read near 2 GiB; loop until the tensor is complete.
    const n = readSync(fd, target, done, Math.min(target.length - done, 1 << 30), position + done);
    if (n === 0) throw truncated(path, `file ended at byte ${position + done} while reading tensor data`);
    done += n;
  }
}

function truncated(path: string, what: string): FtcError {
  return new FtcError('E_SAFETENSORS_TRUNCATED', `truncated safetensors file: ${what}`, { file: path },
    'the file is incomplete; download or write it again');
}

function invalid(path: string, what: string): FtcError {
  return new FtcError('E_SAFETENSORS_HEADER_INVALID', `invalid safetensors header: ${what}`, { file: path },
    'the file is corrupt or not a safetensors file');
}

function readHeader(fd: number, path: string): SafetensorsHeader {
  const fileSize = fstatSync(fd).size;
  if (fileSize < 8) throw truncated(path, `${fileSize} bytes, shorter than the 8-byte header length`);
  const prefix = Buffer.alloc(8);
  readFully(fd, prefix, 0, path);
  const n = prefix.readBigUInt64LE(0);
  if (n > BigInt(MAX_HEADER_BYTES)) {
    throw new FtcError('E_SAFETENSORS_HEADER_TOO_LARGE', `safetensors header claims ${n} bytes, over the ${MAX_HEADER_BYTES}-byte limit`,
      { file: path }, 'the file is corrupt or not a safetensors file');
  }
  const headerLen = Number(n);
  if (8 + headerLen > fileSize) throw truncated(path, `header claims ${headerLen} bytes but the file has only ${fileSize - 8} after the length`);
  const raw = Buffer.alloc(headerLen);
  readFully(fd, raw, 8, path);
  let json: unknown;
  try {
    json = JSON.parse(raw.toString('utf8'));
  } catch (e) {
    throw invalid(path, `not valid JSON (${(e as Error).message})`);
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw invalid(path, 'the header is not a JSON object');

  const dataStart = 8 + headerLen;
  const dataSize = fileSize - dataStart;
  const tensors = new Map<string, TensorInfo>();
  let metadata: Record<string, string> = {};
  for (const [name, entry] of Object.entries(json as Record<string, unknown>)) {
    if (name === '__metadata__') {
      metadata = parseMetadata(entry, path);
      continue;
    }
    const info = parseEntry(name, entry, path);
    const [begin, end] = info.offsets;
    if (end > dataSize) {
      throw new FtcError('E_SAFETENSORS_OFFSETS', `tensor "${name}" ends at data byte ${end}, past the data section (${dataSize} bytes)`,
        { file: path }, 'the file is truncated or corrupt');
    }
    tensors.set(name, { dtype: info.dtype, shape: info.shape, begin: dataStart + begin, end: dataStart + end });
  }
  checkNoOverlap(tensors, path);
  return { file: path, fileSize, dataStart, tensors, metadata };
}

function parseMetadata(entry: unknown, path: string): Record<string, string> {
  if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) throw invalid(path, '__metadata__ must be an object of strings');
  for (const [k, v] of Object.entries(entry)) {
    if (typeof v !== 'string') throw invalid(path, `__metadata__.${k} must be a string`);
  }
  return entry as Record<string, string>;
}

const isIndex = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;

function parseEntry(name: string, entry: unknown, path: string): { dtype: string; shape: number[]; offsets: [number, number] } {
  if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) throw invalid(path, `entry "${name}" is not an object`);
  const { dtype, shape, data_offsets: offsets } = entry as Record<string, unknown>;
  if (typeof dtype !== 'string' || !(dtype in DTYPE_BYTES)) throw invalid(path, `tensor "${name}" has unknown dtype ${JSON.stringify(dtype)}`);
  if (!Array.isArray(shape) || !shape.every(isIndex)) {
    throw invalid(path, `tensor "${name}" shape must be a list of non-negative integers, found ${JSON.stringify(shape)}`);
  }
  if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every(isIndex)) {
    throw new FtcError('E_SAFETENSORS_OFFSETS', `tensor "${name}" data_offsets must be two non-negative integers, found ${JSON.stringify(offsets)}`,
      { file: path }, 'the file is corrupt');
  }
  const [begin, end] = offsets as [number, number];
  if (begin > end) {
    throw new FtcError('E_SAFETENSORS_OFFSETS', `tensor "${name}" data_offsets [${begin}, ${end}] end before they begin`, { file: path }, 'the file is corrupt');
  }
  // Multiply step by step so a hostile shape cannot overflow past the safe-integer range unnoticed.
  let bytes = DTYPE_BYTES[dtype]!;
  for (const d of shape as number[]) {
    bytes *= d;
    if (!Number.isSafeInteger(bytes)) throw invalid(path, `tensor "${name}" shape [${shape}] is impossibly large`);
  }
  if (bytes !== end - begin) {
    throw new FtcError('E_SAFETENSORS_SIZE_MISMATCH',
      `tensor "${name}" (${dtype} [${shape}]) needs ${bytes} bytes but data_offsets span ${end - begin}`, { file: path }, 'the file is corrupt');
  }
  return { dtype, shape: shape as number[], offsets: [begin, end] };
}

function checkNoOverlap(tensors: Map<string, TensorInfo>, path: string): void {
  const byStart = [...tensors.entries()].filter(([, t]) => t.end > t.begin).sort((a, b) => a[1].begin - b[1].begin);
  for (let i = 1; i < byStart.length; i++) {
    const [prevName, prev] = byStart[i - 1]!;
    const [name, t] = byStart[i]!;
    if (t.begin < prev.end) {
      throw new FtcError('E_SAFETENSORS_OVERLAP', `tensors "${prevName}" and "${name}" share bytes in the data section`, { file: path },
        'the file is corrupt or was crafted to alias tensors');
    }
  }
}
