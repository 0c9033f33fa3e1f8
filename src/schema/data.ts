import type { StageSchema } from './types.js';

export const dataSchema: StageSchema = {
  kind: 'data',
  description: 'Reads records from a file: json (array of records), jsonl, csv, parquet or plain text.',
  'x-version': 1,
  type: 'object',
  properties: {
    source: { type: 'string', 'x-path': 'file', description: 'Path of the data file, relative to the pipeline file.' },
    format: {
      type: 'string',
      enum: ['json', 'jsonl', 'csv', 'parquet', 'text'],
      description: 'File format; by default taken from the extension (.json, .jsonl, .csv, .parquet, .txt).',
    },
    text_mode: {
      type: 'string',
      enum: ['line', 'file'],
      default: 'line',
      description: 'For text files: one record per line, or the whole file as one record. The record field is `text`.',
    },
    rename: {
      type: 'object',
      additionalProperties: { type: 'string' },
      description: 'Field renames, new_name = "old_name", applied to every record.',
    },
    fields: {
      type: 'object',
      additionalProperties: { type: 'string', enum: ['string', 'number', 'boolean', 'any'] },
      description: 'Record schema: field = type. A record missing a field or with the wrong type is a malformed row.',
    },
    on_error: {
      type: 'string',
      enum: ['fail', 'skip'],
      default: 'fail',
      description: 'A malformed row stops the run (fail) or is skipped and counted (skip).',
    },
    limit: { type: 'integer', minimum: 1, description: 'Read at most this many records.' },
  },
  required: ['source'],
  additionalProperties: false,
};
