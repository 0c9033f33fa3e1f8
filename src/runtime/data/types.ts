import type { JsonValue } from '../../compiler/ir.js';

/** One record as the data stage writes it: a flat or nested JSON object. */
export type DataRecord = { [field: string]: JsonValue };

/**
 * What a format reader yields for each row: either a parsed value or what is wrong with it.
 * Readers never throw for a bad row (the caller decides between fail and skip); they throw
 * FtcError only when the file as a whole cannot be read on.
 */
export interface RowItem {
  /** 1-based row number as the user counts rows in that format (array element, line, CSV record). */
  row: number;
  /** 1-based line where the row starts, when the format has lines. */
  line?: number;
  value?: unknown;
  error?: string;
}

export type RowSource = AsyncIterable<RowItem>;

export type DataFormat = 'json' | 'jsonl' | 'csv' | 'parquet' | 'text';

/**
 * Thrown by a reader when the file as a whole cannot be read on (truncated, not an array...).
 * The record reader turns it into an FtcError naming the file as the user wrote it.
 */
export class FileFault extends Error {
  constructor(
    message: string,
    readonly at: { row?: number; line?: number } = {},
    readonly hint?: string,
  ) {
    super(message);
  }
}
