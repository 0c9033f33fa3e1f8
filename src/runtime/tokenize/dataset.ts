import { closeSync, existsSync, openSync, readFileSync, writeFileSync, writeSync } from 'node:fs';
import { endianness } from 'node:os';
import { join } from 'node:path';
import { FtcError } from '../../errors.js';
import { IGNORE_INDEX } from '../../model-spec/labels.js';

/**
 * The tokenizer stage's artifact: compact binary, one set of files per split.
 *
 *   <split>.ids.i32       Int32 LE, every example's token ids concatenated
 *   <split>.labels.i32    Int32 LE, same length; -100 where no loss is taken
 *   <split>.offsets.u32   Uint32 LE, examples + 1 offsets into ids/labels (offsets[0] = 0)
 *   <split>.segments.u32  (packed only) Uint32 LE, the start of every packed example as a
 *                         position in ids, ascending: attention can keep examples apart
 *   meta.json             TokenDatasetMeta
 *   tokenizer.json        the tokenizer used (loaded or trained)
 */
export const DATASET_FORMAT = 'ftc-tokens/1';

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
  bos_id: number | null;
  eos_id: number | null;
  pad_id: number | null;
  max_length: number;
  packed: boolean;
  train_on_inputs: boolean;
  splits: Record<string, SplitMeta>;
  tokenizer_sha256: string;
}

export interface TokenExample {
  ids: Int32Array;
  labels: Int32Array;
  /** Where each original example starts within this sequence ([0] unless packed). */
  segments: number[];
}

const LE = endianness() === 'LE';

/** Buffers one Int32/Uint32 stream and appends it to its file 1 MB at a time. */
class IntFile {
  private buf = new Int32Array(1 << 18);
  private used = 0;
  private fd: number;
  constructor(file: string) {
    this.fd = openSync(file, 'w');
  }
  push(values: ArrayLike<number>): void {
    if (values.length <= this.buf.length - this.used) {
      this.buf.set(values, this.used); // the common case: one copy
      this.used += values.length;
      return;
    }
    for (let i = 0; i < values.length; i++) {
      if (this.used === this.buf.length) this.flush();
      this.buf[this.used++] = values[i];
    }
  }
  flush(): void {
    if (!this.used) return;
    const view = this.buf.subarray(0, this.used);
    writeSync(this.fd, toLittleEndian(new Uint8Array(view.buffer, view.byteOffset, view.byteLength)));
    this.used = 0;
  }
  close(): void {
    this.flush();
    closeSync(this.fd);
  }
}

function toLittleEndian(bytes: Uint8Array): Uint8Array {
  if (LE) return bytes;
  const out = new Uint8Array(bytes.length);
  for (let i = 0; i < bytes.length; i += 4) for (let k = 0; k < 4; k++) out[i + k] = bytes[i + 3 - k];
  return out;
}

/** Streams one split to disk; ids and labels are appended, never held whole. */
export class SplitWriter {
  private ids: IntFile;
  private labels: IntFile;
  private offsets: IntFile;
  private segments?: IntFile;
  examples = 0;
  tokens = 0;
  segmentCount = 0;

  constructor(dir: string, readonly name: string, packed: boolean) {
    this.ids = new IntFile(join(dir, `${name}.ids.i32`));
    this.labels = new IntFile(join(dir, `${name}.labels.i32`));
    this.offsets = new IntFile(join(dir, `${name}.offsets.u32`));
    if (packed) this.segments = new IntFile(join(dir, `${name}.segments.u32`));
    this.offsets.push([0]);
  }

  /** Appends one sequence; `segments` are start positions within it (packed datasets only). */
  add(ids: ArrayLike<number>, labels: ArrayLike<number>, segments: ArrayLike<number> = [0]): void {
    if (ids.length !== labels.length) throw new Error(`ids (${ids.length}) and labels (${labels.length}) differ in length`);
    if (this.segments) this.segments.push(Array.from(segments, (s) => s + this.tokens));
    this.ids.push(ids);
    this.labels.push(labels);
    this.tokens += ids.length;
    if (this.tokens > 0xffffffff) throw new Error('a split over 2^32 tokens does not fit u32 offsets');
    this.offsets.push([this.tokens]);
    this.examples++;
    this.segmentCount += segments.length;
  }

  close(): SplitMeta {
    this.ids.close();
    this.labels.close();
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
  meta: Omit<TokenDatasetMeta, 'splits' | 'format'>,
  splits: Record<string, Array<{ ids: ArrayLike<number>; labels: ArrayLike<number>; segments?: ArrayLike<number> }>>,
): TokenDatasetMeta {
  const out: TokenDatasetMeta = { format: DATASET_FORMAT, ...meta, splits: {} };
  for (const [name, examples] of Object.entries(splits)) {
    const w = new SplitWriter(dir, name, meta.packed);
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
}

function corrupt(dir: string, what: string): FtcError {
  return new FtcError('E_TOKEN_DATASET_CORRUPT', `tokenized dataset ${dir}: ${what}`, { file: dir }, 'run again with --force on the tokenizer stage to rebuild it');
}

function readInts(file: string, dir: string): Int32Array {
  if (!existsSync(file)) throw corrupt(dir, `missing ${file}`);
  const bytes = readFileSync(file);
  if (bytes.length % 4) throw corrupt(dir, `${file} is not a whole number of 32-bit values`);
  // Copy into a fresh, aligned buffer (a Buffer may sit at any offset of a shared pool).
  const copy = new Uint8Array(toLittleEndian(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.length)));
  return new Int32Array(copy.buffer, 0, bytes.length / 4);
}

/** Reads a dataset written by writeTokenDataset or the tokenizer stage, checking its shape. */
export function readTokenDataset(dir: string): TokenDataset {
  let meta: TokenDatasetMeta;
  try {
    meta = JSON.parse(readFileSync(join(dir, 'meta.json'), 'utf8')) as TokenDatasetMeta;
  } catch (e) {
    throw corrupt(dir, `meta.json: ${(e as Error).message}`);
  }
  if (meta.format !== DATASET_FORMAT) throw corrupt(dir, `format ${JSON.stringify(meta.format)}, expected ${DATASET_FORMAT}`);
  const loaded = new Map<string, TokenSplit>();
  const load = (name: string): TokenSplit => {
    const m = meta.splits[name];
    if (!m) return { count: 0, tokens: 0, example: (i) => { throw new RangeError(`split ${name} is empty (example ${i})`); } };
    const ids = readInts(join(dir, `${name}.ids.i32`), dir);
    const labels = readInts(join(dir, `${name}.labels.i32`), dir);
    const offsets = new Uint32Array(readInts(join(dir, `${name}.offsets.u32`), dir).buffer);
    const segments = meta.packed ? new Uint32Array(readInts(join(dir, `${name}.segments.u32`), dir).buffer) : undefined;
    if (offsets.length !== m.examples + 1 || ids.length !== m.tokens || labels.length !== m.tokens || offsets[0] !== 0 || offsets[m.examples] !== m.tokens) {
      throw corrupt(dir, `split ${name} does not match meta.json (${m.examples} examples, ${m.tokens} tokens)`);
    }
    for (let i = 0; i < m.examples; i++) if (offsets[i + 1] < offsets[i]) throw corrupt(dir, `split ${name}: offsets decrease at ${i}`);
    if (segments && segments.length !== m.segments) throw corrupt(dir, `split ${name}: ${segments.length} segments, meta.json says ${m.segments}`);
    let seg = 0; // segments ascend, so a forward cursor finds them; binary search for random access
    return {
      count: m.examples,
      tokens: m.tokens,
      example(i) {
        if (!Number.isInteger(i) || i < 0 || i >= m.examples) throw new RangeError(`example ${i} of split ${name} (${m.examples} examples)`);
        const start = offsets[i], end = offsets[i + 1];
        const starts: number[] = [];
        if (segments) {
          if (seg >= segments.length || segments[seg] !== start) seg = lowerBound(segments, start);
          while (seg < segments.length && segments[seg] < end) starts.push(segments[seg++] - start);
        } else starts.push(0);
        return { ids: ids.subarray(start, end), labels: labels.subarray(start, end), segments: starts };
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
