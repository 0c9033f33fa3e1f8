import { brotliDecompressSync, gunzipSync } from 'node:zlib';
import { asyncBufferFromFile, parquetMetadataAsync, parquetReadObjects, type Compressors } from 'hyparquet';
import { FileFault, type RowSource } from './types.js';

/** Snappy is built into hyparquet; node's zlib covers the other common codecs. */
const compressors: Compressors = {
  GZIP: (input) => new Uint8Array(gunzipSync(input)),
  BROTLI: (input) => new Uint8Array(brotliDecompressSync(input)),
};

/**
 * Parquet through hyparquet, one row group at a time, so memory holds a single row group's
 * columns. Row numbers are 1-based across the whole file. Values are turned into plain JSON
 * (BigInt → number when exact, else string; dates → ISO strings; bytes → UTF-8 text).
 */
export async function* readParquet(file: string): RowSource {
  const buffer = await asyncBufferFromFile(file);
  let metadata;
  try {
    metadata = await parquetMetadataAsync(buffer);
  } catch (e) {
    throw new FileFault(`not a readable parquet file: ${(e as Error).message}`);
  }
  let rowStart = 0;
  for (const group of metadata.row_groups) {
    const count = Number(group.num_rows);
    let rows: Record<string, unknown>[];
    try {
      rows = await parquetReadObjects({ file: buffer, metadata, rowStart, rowEnd: rowStart + count, compressors });
    } catch (e) {
      throw new FileFault(
        `cannot read the row group holding rows ${rowStart + 1}-${rowStart + count}: ${(e as Error).message}`,
        { row: rowStart + 1 },
        /compress|codec/i.test((e as Error).message) ? 'ftc reads snappy, gzip, brotli and uncompressed parquet; rewrite the file with one of those' : undefined,
      );
    }
    for (let i = 0; i < rows.length; i++) yield { row: rowStart + i + 1, value: toJson(rows[i]) };
    rowStart += count;
  }
}

function toJson(value: unknown): unknown {
  if (typeof value === 'bigint') {
    const n = Number(value);
    return Number.isSafeInteger(n) ? n : value.toString();
  }
  if (value instanceof Date) return value.toISOString();
  if (value instanceof Uint8Array) return Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('utf8');
  if (Array.isArray(value) || ArrayBuffer.isView(value)) return Array.from(value as ArrayLike<unknown>, toJson);
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = toJson(v);
    return out;
  }
  if (typeof value === 'number' && !Number.isFinite(value)) return null; // JSON has no NaN/Infinity
  return value;
}
