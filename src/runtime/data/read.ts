import { extname } from 'node:path';
import { FtcError } from '../../errors.js';
import { PATH_KIND_TEXT, pathKind } from '../../path-kind.js';
import type { JsonValue } from '../../compiler/ir.js';
import { readCsv } from './csv.js';
import { readJsonArray } from './json.js';
import { readJsonl } from './jsonl.js';
import { readParquet } from './parquet.js';
import { readText, type TextMode } from './text.js';
import { FileFault, type DataFormat, type DataRecord, type RowItem, type RowSource } from './types.js';

export type FieldType = 'string' | 'number' | 'boolean' | 'any';

export interface ReadOptions {
  /** Absolute path of the file. */
  file: string;
  /** How errors name the file (the path as the pipeline wrote it). */
  display?: string;
  format?: DataFormat;
  textMode?: TextMode;
  /** new_name → old_name. */
  rename?: Record<string, string>;
  fields?: Record<string, FieldType>;
  onError?: 'fail' | 'skip';
  limit?: number;
  /** Named in the hint of a malformed-row error, e.g. "data stage `raw`". */
  stageLabel?: string;
  /** With onError = skip: told of every skipped row and why. */
  onSkip?: (skipped: { row: number; line?: number; reason: string }) => void;
}

export interface ReadStats {
  rows: number;
  skipped: number;
}

const EXTENSIONS: Record<string, DataFormat> = {
  '.json': 'json',
  '.jsonl': 'jsonl',
  '.ndjson': 'jsonl',
  '.csv': 'csv',
  '.parquet': 'parquet',
  '.pq': 'parquet',
  '.txt': 'text',
  '.text': 'text',
  '.md': 'text',
};

export function detectFormat(file: string, display = file): DataFormat {
  const format = EXTENSIONS[extname(file).toLowerCase()];
  if (!format) {
    throw new FtcError(
      'E_DATA_FORMAT',
      `cannot tell the format of ${display} from its extension`,
      { file: display },
      'set format = json | jsonl | csv | parquet | text in the data stage',
    );
  }
  return format;
}

function open(format: DataFormat, file: string, textMode: TextMode): RowSource {
  switch (format) {
    case 'json': return readJsonArray(file);
    case 'jsonl': return readJsonl(file);
    case 'csv': return readCsv(file);
    case 'parquet': return readParquet(file);
    case 'text': return readText(file, textMode);
  }
}

/**
 * Reads a data file as a stream of records: parses with the format's reader, then applies
 * renames, the record schema and the limit. A malformed row (bad syntax, not an object, a
 * schema mismatch) fails with an FtcError naming file and row, or with onError = skip is
 * dropped and counted in `stats.skipped`. `stats.rows` counts the records yielded.
 */
export async function* readRecords(opts: ReadOptions, stats: ReadStats = { rows: 0, skipped: 0 }): AsyncGenerator<DataRecord> {
  const display = opts.display ?? opts.file;
  const kind = pathKind(opts.file);
  if (kind === 'missing') throw new FtcError('E_DATA_NOT_FOUND', `data file not found: ${display}`, { file: display }, 'paths are relative to the pipeline file');
  if (kind === 'dir') throw new FtcError('E_DATA_NOT_A_FILE', `data source ${display} is a directory, not a file`, { file: display }, 'name one data file (json, jsonl, csv, parquet or text)');
  if (kind !== 'file') throw new FtcError('E_DATA_NOT_A_FILE', `data source ${display} ${PATH_KIND_TEXT[kind]}`, { file: display }, 'name a regular data file (json, jsonl, csv, parquet or text)');
  const format = opts.format ?? detectFormat(opts.file, display);
  // CSV and text hold only strings, so a declared number/boolean field is converted.
  const coerce = format === 'csv' || format === 'text';
  const source = open(format, opts.file, opts.textMode ?? 'line');
  try {
    for await (const item of source) {
      if (opts.limit !== undefined && stats.rows >= opts.limit) return;
      const problem = item.error ?? undefined;
      const record = problem === undefined ? shape(item, opts, coerce) : problem;
      if (typeof record === 'string') {
        if (opts.onError === 'skip') {
          stats.skipped++;
          opts.onSkip?.({ row: item.row, line: item.line, reason: record });
          continue;
        }
        throw malformed(display, item, record, opts.stageLabel);
      }
      stats.rows++;
      yield record;
    }
  } catch (e) {
    if (e instanceof FileFault) {
      throw new FtcError(
        'E_DATA_UNREADABLE',
        e.message, // the CLI prefixes `where`: "file: row N: " or "file:line: "
        { file: display, row: e.at.row, line: e.at.line },
        e.hint,
      );
    }
    throw e;
  }
}

function malformed(display: string, item: RowItem, problem: string, stageLabel?: string): FtcError {
  // The file and row are in `where`, which the CLI prints first ("data/x.csv: row 17: error[...]").
  const lineNote = item.line !== undefined && item.line !== item.row ? ` (the row starts on line ${item.line})` : '';
  return new FtcError(
    'E_DATA_MALFORMED_ROW',
    `${problem}${lineNote}`,
    { file: display, row: item.row, line: item.line },
    `fix the row, or set on_error = skip${stageLabel ? ` in ${stageLabel}` : ''} to skip malformed rows and count them`,
  );
}

/** The record after renames and the schema check, or a string saying what is wrong. */
function shape(item: RowItem, opts: ReadOptions, coerce: boolean): DataRecord | string {
  const value = item.value;
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    return `expected a record (an object), found ${value === null ? 'null' : Array.isArray(value) ? 'an array' : typeof value}`;
  }
  const record = value as DataRecord;
  if (opts.rename) {
    for (const [to, from] of Object.entries(opts.rename)) {
      // Own fields only: a rename from `constructor` must not move JavaScript's internals into the record.
      if (Object.prototype.hasOwnProperty.call(record, from)) {
        const moved = record[from];
        delete record[from];
        record[to] = moved;
      }
    }
  }
  if (opts.fields) {
    for (const [name, type] of Object.entries(opts.fields)) {
      if (!Object.prototype.hasOwnProperty.call(record, name) || record[name] === undefined) return `field "${name}" is missing`;
      const v = record[name];
      if (type === 'any' || typeof v === type) continue;
      const converted = coerce && typeof v === 'string' ? convert(v, type) : undefined;
      if (converted === undefined) return `field "${name}" should be a ${type}, found ${describe(v)}`;
      record[name] = converted;
    }
  }
  return record;
}

function convert(text: string, type: FieldType): JsonValue | undefined {
  if (type === 'number') {
    const n = Number(text.trim());
    return text.trim() !== '' && Number.isFinite(n) ? n : undefined;
  }
  if (type === 'boolean') {
    const t = text.trim().toLowerCase();
    return t === 'true' ? true : t === 'false' ? false : undefined;
  }
  return undefined;
}

function describe(v: JsonValue): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'string') return `the string ${JSON.stringify(v.length > 40 ? v.slice(0, 40) + '…' : v)}`;
  return `${typeof v} ${JSON.stringify(v)}`;
}
