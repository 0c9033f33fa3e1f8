import { closeSync, existsSync, fstatSync, openSync, readFileSync, readSync, writeFileSync, writeSync } from 'node:fs';
import { endianness } from 'node:os';
import { join } from 'node:path';
import { FtcError } from '../../errors.js';
import { IGNORE_INDEX } from '../../model-spec/labels.js';

/**
 * The tokenizer stage's artifact: compact binary, one set of files per split, read by offset so a
 * reader's memory does not grow with the dataset (4 bytes per example for the offsets).
 *
 *   <split>.ids.u16|u32   token ids concatenated, LE, in the smallest width the vocabulary needs
 *                         (meta.id_bytes: 2 up to 65,536 entries, else 4)
 *   <split>.mask.bits     one bit per token (LSB first): 1 where the loss is taken; labels are the
 *                         id there and -100 elsewhere, which is all a label can be
 *   <split>.offsets.u32   Uint32 LE, examples + 1 offsets into ids (offsets[0] = 0)
 *   <split>.segments.u32  (packed only) Uint32 LE, the start of every packed example as a
 *                         position in ids, ascending: attention can keep examples apart
 *   meta.json             TokenDatasetMeta
 *   eval.prompts.jsonl    the eval split's first prompts and answers as text, each prompt also
 *                         encoded alone: what generation asks (held-out.ts)
 *   tokenizer.json        the tokenizer used (loaded or trained)
 */
export const DATASET_FORMAT = 'ftc-tokens/2';

export interface SplitMeta {
  /** Sequences in the split (packed sequences when packed). */
  examples: number;
  tokens: number;
  /** Original examples (equals `examples` unless packed). */
  segments: number;
}

export interface TokenDatasetMeta {
  format: string;
  vocab_size: number;
  /** Bytes per stored id: 2 or 4. */
  id_bytes: 2 | 4;
  bos_id: number | null;
  eos_id: number | null;
  pad_id: number | null;
  max_length: number;
  packed: boolean;
  train_on_inputs: boolean;
  /** What transformers' `tokenizer(text)` adds around a text (runtime/tokenize/specials.ts): the accelerate job adds the same. */
  added_specials?: { prefix: number[]; suffix: number[] };
  splits: Record<string, SplitMeta>;
  tokenizer_sha256: string;
}

export interface TokenExample {
  ids: Int32Array;
  labels: Int32Array;
  /** Where each original example starts within this sequence ([0] unless packed). */
  segments: number[];
}

/** The id width a vocabulary needs. */
export function idBytesFor(vocabSize: number): 2 | 4 {
  return vocabSize <= 0x10000 ? 2 : 4;
}

const LE = endianness() === 'LE';

type Uint = Uint8Array | Uint16Array | Uint32Array;

/** Buffers one unsigned stream and appends it to its file ~1 MB at a time. */
class UintFile {
  private used = 0;
  private fd: number;
  constructor(file: string, private readonly buf: Uint) {
    this.fd = openSync(file, 'w');
  }
  push(values: ArrayLike<number>): void {
    if (values.length <= this.buf.length - this.used) {
      this.buf.set(values, this.used); // the common case: one copy
      this.used += values.length;
      return;
    }
    for (let i = 0; i < values.length; i++) this.pushOne(values[i]);
  }
  /** One value (a mask byte, an offset): no array to wrap it in. */
  pushOne(value: number): void {
    if (this.used === this.buf.length) this.flush();
    this.buf[this.used++] = value;
  }
  flush(): void {
    if (!this.used) return;
    const view = this.buf.subarray(0, this.used);
    writeSync(this.fd, toLittleEndian(new Uint8Array(view.buffer, view.byteOffset, view.byteLength), this.buf.BYTES_PER_ELEMENT));
    this.used = 0;
  }
  close(): void {
    this.flush();
    closeSync(this.fd);
  }
}

/** Swaps each `width`-byte value on a big-endian host (files are little-endian); a no-op elsewhere. */
function toLittleEndian(bytes: Uint8Array, width: number): Uint8Array {
  if (LE || width === 1) return bytes;
  const out = new Uint8Array(bytes.length);
  for (let i = 0; i < bytes.length; i += width) for (let k = 0; k < width; k++) out[i + k] = bytes[i + width - 1 - k];
  return out;
}

/** Streams one split to disk; ids and the mask are appended, never held whole. */
export class SplitWriter {
  private ids: UintFile;
  private mask: UintFile;
  private offsets: UintFile;
  private segments?: UintFile;
  private bits = 0; // the mask byte being filled
  private limit: number;
  examples = 0;
  tokens = 0;
  segmentCount = 0;

  constructor(dir: string, readonly name: string, packed: boolean, idBytes: 2 | 4) {
    this.limit = idBytes === 2 ? 0xffff : 0xffffffff;
    this.ids = new UintFile(join(dir, `${name}.ids.${idBytes === 2 ? 'u16' : 'u32'}`), idBytes === 2 ? new Uint16Array(1 << 19) : new Uint32Array(1 << 18));
    this.mask = new UintFile(join(dir, `${name}.mask.bits`), new Uint8Array(1 << 17));
    this.offsets = new UintFile(join(dir, `${name}.offsets.u32`), new Uint32Array(1 << 16));
    if (packed) this.segments = new UintFile(join(dir, `${name}.segments.u32`), new Uint32Array(1 << 16));
    this.offsets.push([0]);
  }

  /** Appends one sequence; `segments` are start positions within it (packed datasets only). */
  add(ids: ArrayLike<number>, labels: ArrayLike<number>, segments: ArrayLike<number> = [0]): void {
    if (ids.length !== labels.length) throw new Error(`ids (${ids.length}) and labels (${labels.length}) differ in length`);
    if (this.tokens + ids.length > 0xffffffff) throw new Error('a split over 2^32 tokens does not fit u32 offsets');
    const limit = this.limit;
    let bits = this.bits, bit = this.tokens & 7;
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i];
      if (!(id >= 0 && id <= limit)) throw new Error(`token id ${id} does not fit ${limit === 0xffff ? 'u16' : 'u32'}`);
      const label = labels[i];
      if (label !== IGNORE_INDEX) {
        if (label !== id) throw new Error(`label ${label} at ${i} is neither its id ${id} nor ${IGNORE_INDEX}`);
        bits |= 1 << bit;
      }
      if (++bit === 8) {
        this.mask.pushOne(bits);
        bits = 0;
        bit = 0;
      }
    }
    this.bits = bits;
    if (this.segments) this.segments.push(Array.from(segments, (s) => s + this.tokens));
    this.ids.push(ids);
    this.tokens += ids.length;
    this.offsets.pushOne(this.tokens);
    this.examples++;
    this.segmentCount += segments.length;
  }

  close(): SplitMeta {
    if (this.tokens & 7) this.mask.pushOne(this.bits);
    this.ids.close();
    this.mask.close();
    this.offsets.close();
    this.segments?.close();
    return { examples: this.examples, tokens: this.tokens, segments: this.segmentCount };
  }
}

export function writeMeta(dir: string, meta: TokenDatasetMeta): void {
  writeFileSync(join(dir, 'meta.json'), JSON.stringify(meta, null, 2) + '\n');
}

/** Writes a whole dataset at once (small data, tests); the stage streams through SplitWriter. */
export function writeTokenDataset(
  dir: string,
  meta: Omit<TokenDatasetMeta, 'splits' | 'format' | 'id_bytes'>,
  splits: Record<string, Array<{ ids: ArrayLike<number>; labels: ArrayLike<number>; segments?: ArrayLike<number> }>>,
): TokenDatasetMeta {
  const out: TokenDatasetMeta = { format: DATASET_FORMAT, ...meta, id_bytes: idBytesFor(meta.vocab_size), splits: {} };
  for (const [name, examples] of Object.entries(splits)) {
    const w = new SplitWriter(dir, name, meta.packed, out.id_bytes);
    for (const e of examples) w.add(e.ids, e.labels, e.segments);
    out.splits[name] = w.close();
  }
  writeMeta(dir, out);
  return out;
}

export interface TokenSplit {
  count: number;
  tokens: number;
  example(i: number): TokenExample;
}

export interface TokenDataset {
  meta: TokenDatasetMeta;
  /** The split's examples; a split the dataset lacks is an empty split. */
  split(name: string): TokenSplit;
  /** Closes the files the splits read from. */
  close(): void;
}

function corrupt(dir: string, what: string): FtcError {
  return new FtcError('E_TOKEN_DATASET_CORRUPT', `tokenized dataset ${dir}: ${what}`, { file: dir }, 'run again with --force on the tokenizer stage to rebuild it');
}

/** A small file read whole (offsets, segments: 4 bytes per example), as Uint32 values. */
function readU32(file: string, dir: string): Uint32Array {
  if (!existsSync(file)) throw corrupt(dir, `missing ${file}`);
  const bytes = readFileSync(file);
  if (bytes.length % 4) throw corrupt(dir, `${file} is not a whole number of 32-bit values`);
  // Copy into a fresh, aligned buffer (a Buffer may sit at any offset of a shared pool).
  const copy = new Uint8Array(toLittleEndian(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.length), 4));
  return new Uint32Array(copy.buffer, 0, bytes.length / 4);
}

/** Opens a large file to read by offset; its size must be what meta.json says. */
function openSized(file: string, dir: string, bytes: number, opened: number[]): number {
  if (!existsSync(file)) throw corrupt(dir, `missing ${file}`);
  const fd = openSync(file, 'r');
  opened.push(fd);
  const size = fstatSync(fd).size;
  if (size !== bytes) throw corrupt(dir, `${file} holds ${size} bytes, meta.json implies ${bytes}`);
  return fd;
}

function readAt(fd: number, position: number, length: number): Uint8Array {
  const buf = new Uint8Array(length);
  let done = 0;
  while (done < length) {
    const n = readSync(fd, buf, done, length - done, position + done);
    if (n === 0) throw new Error(`unexpected end of file at ${position + done}`);
    done += n;
  }
  return buf;
}

/**
 * Reads a dataset written by writeTokenDataset or the tokenizer stage, checking its shape. Ids and
 * mask stay on disk: each example is read by offset when asked for (the trainer asks per batch).
 */
export function readTokenDataset(dir: string): TokenDataset {
  let meta: TokenDatasetMeta;
  try {
    meta = JSON.parse(readFileSync(join(dir, 'meta.json'), 'utf8')) as TokenDatasetMeta;
  } catch (e) {
    throw corrupt(dir, `meta.json: ${(e as Error).message}`);
  }
  if (meta.format !== DATASET_FORMAT) throw corrupt(dir, `format ${JSON.stringify(meta.format)}, expected ${DATASET_FORMAT}`);
  if (meta.id_bytes !== 2 && meta.id_bytes !== 4) throw corrupt(dir, `id_bytes ${JSON.stringify(meta.id_bytes)}, expected 2 or 4`);
  const width = meta.id_bytes;
  const opened: number[] = [];
  const loaded = new Map<string, TokenSplit>();
  const load = (name: string): TokenSplit => {
    const m = meta.splits[name];
    if (!m) return { count: 0, tokens: 0, example: (i) => { throw new RangeError(`split ${name} is empty (example ${i})`); } };
    const offsets = readU32(join(dir, `${name}.offsets.u32`), dir);
    const segments = meta.packed ? readU32(join(dir, `${name}.segments.u32`), dir) : undefined;
    if (offsets.length !== m.examples + 1 || offsets[0] !== 0 || offsets[m.examples] !== m.tokens) {
      throw corrupt(dir, `split ${name} does not match meta.json (${m.examples} examples, ${m.tokens} tokens)`);
    }
    for (let i = 0; i < m.examples; i++) if (offsets[i + 1] < offsets[i]) throw corrupt(dir, `split ${name}: offsets decrease at ${i}`);
    if (segments && segments.length !== m.segments) throw corrupt(dir, `split ${name}: ${segments.length} segments, meta.json says ${m.segments}`);
    const idsFd = openSized(join(dir, `${name}.ids.${width === 2 ? 'u16' : 'u32'}`), dir, m.tokens * width, opened);
    const maskFd = openSized(join(dir, `${name}.mask.bits`), dir, Math.ceil(m.tokens / 8), opened);
    let seg = 0; // segments ascend, so a forward cursor finds them; binary search for random access
    return {
      count: m.examples,
      tokens: m.tokens,
      example(i) {
        if (!Number.isInteger(i) || i < 0 || i >= m.examples) throw new RangeError(`example ${i} of split ${name} (${m.examples} examples)`);
        const start = offsets[i], end = offsets[i + 1], n = end - start;
        const raw = toLittleEndian(readAt(idsFd, start * width, n * width), width);
        const stored = width === 2 ? new Uint16Array(raw.buffer, 0, n) : new Uint32Array(raw.buffer, 0, n);
        const ids = Int32Array.from(stored);
        const firstByte = start >> 3;
        const mask = readAt(maskFd, firstByte, n ? ((end - 1) >> 3) - firstByte + 1 : 0);
        const labels = new Int32Array(n);
        for (let t = 0; t < n; t++) {
          const bit = start + t - (firstByte << 3);
          labels[t] = mask[bit >> 3] & (1 << (bit & 7)) ? ids[t] : IGNORE_INDEX;
        }
        const starts: number[] = [];
        if (segments) {
          if (seg >= segments.length || segments[seg] !== start) seg = lowerBound(segments, start);
          while (seg < segments.length && segments[seg] < end) starts.push(segments[seg++] - start);
        } else starts.push(0);
        return { ids, labels, segments: starts };
      },
    };
  };
  return {
    meta,
    split(name) {
      let s = loaded.get(name);
      if (!s) loaded.set(name, (s = load(name)));
      return s;
    },
    close() {
      for (const fd of opened.splice(0)) closeSync(fd);
      loaded.clear();
    },
  };
}

function lowerBound(a: Uint32Array, x: number): number {
  let lo = 0, hi = a.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (a[mid] < x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
