import { join, resolve } from 'node:path';
import { JsonlWriter } from '../data/jsonl-writer.js';
import { readRecords, type FieldType, type ReadStats } from '../data/read.js';
import type { DataFormat } from '../data/types.js';
import type { TextMode } from '../data/text.js';
import type { StageContext, StageImpl, StageSummary } from '../stage.js';

/** The data stage's artifact: one normalized JSON record per line. */
export const RECORDS_FILE = 'records.jsonl';
/** With on_error = skip: every skipped row, {row, line?, reason} per line, beside the records. */
export const SKIPPED_FILE = 'skipped.jsonl';
/** Skipped rows named in the warning; the rest are in SKIPPED_FILE. */
const SKIPS_SHOWN = 5;

interface DataParams {
  source: string;
  format?: DataFormat;
  text_mode?: TextMode;
  rename?: Record<string, string>;
  fields?: Record<string, FieldType>;
  on_error?: 'fail' | 'skip';
  limit?: number;
}

/**
 * Reads the source file (streamed, whatever its size), applies renames, the record schema and
 * the limit, and writes the records as JSON lines. Summary: rows written, rows skipped.
 */
export const dataStage: StageImpl = {
  kind: 'data',
  version: 1,
  async run(ctx: StageContext): Promise<StageSummary> {
    const p = ctx.stage.params as unknown as DataParams;
    const stats: ReadStats = { rows: 0, skipped: 0 };
    const skips = p.on_error === 'skip' ? await JsonlWriter.create(join(ctx.outDir, SKIPPED_FILE)) : undefined;
    const firstSkips: string[] = [];
    const pending: Promise<void>[] = [];
    const records = readRecords(
      {
        file: resolve(ctx.pipeline.dir, p.source),
        display: p.source,
        format: p.format,
        textMode: p.text_mode,
        rename: p.rename,
        fields: p.fields,
        onError: p.on_error,
        limit: p.limit,
        stageLabel: `data stage \`${ctx.stage.name}\``,
        onSkip: (s) => {
          if (firstSkips.length < SKIPS_SHOWN) firstSkips.push(`row ${s.row}${s.line !== undefined && s.line !== s.row ? ` (line ${s.line})` : ''}: ${s.reason}`);
          pending.push(skips!.write(s));
        },
      },
      stats,
    );
    const progress = ctx.log.progress(`reading ${p.source}`);
    const out = await JsonlWriter.create(join(ctx.outDir, RECORDS_FILE));
    try {
      for await (const record of records) {
        await out.write(record);
        if ((stats.rows & 0x3fff) === 0) progress.update(stats.rows, { skipped: stats.skipped });
      }
    } finally {
      await out.close();
      await Promise.all(pending);
      await skips?.close();
      progress.done();
    }
    if (stats.skipped) {
      const more = stats.skipped > firstSkips.length ? `\n  ... all ${stats.skipped} in ${join(ctx.outDir, SKIPPED_FILE)}` : '';
      ctx.log.warn(`skipped ${stats.skipped} malformed row${stats.skipped === 1 ? '' : 's'} of ${p.source}:\n${firstSkips.map((l) => `  ${l}`).join('\n')}${more}`);
    }
    return { rows: stats.rows, skipped: stats.skipped };
  },
};
