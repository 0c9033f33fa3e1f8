import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { dataStage } from '../../../src/runtime/stages/data.js';
import { FtcError } from '../../../src/errors.js';
import { formatError } from '../../../src/cli/output.js';
import { tempDir } from '../../helpers.js';
import { readJsonlFile, runStage } from './stage-context.js';

test('data stage: reads relative to the pipeline dir, renames, skips, limits; writes records.jsonl', async () => {
  const dir = tempDir();
  mkdirSync(join(dir, 'data'));
  writeFileSync(join(dir, 'data/d.csv'), 'q,a\nwhat,that\n"bad\nwho,him\nwhen,then\n');
  const warnings: string[] = [];
  const { summary, artifact } = await runStage(
    dataStage,
    'raw',
    { source: 'data/d.csv', rename: { instruction: 'q', output: 'a' }, on_error: 'skip', text_mode: 'line' },
    { pipelineDir: dir, warnings },
  );
  // '"bad\nwho,him\nwhen,then\n' is one unclosed quoted field: a single malformed row to the end.
  assert.deepEqual(summary, { rows: 1, skipped: 1 });
  assert.deepEqual(readJsonlFile(join(artifact.dir, 'records.jsonl')), [{ instruction: 'what', output: 'that' }]);
  assert.match(warnings[0], /skipped 1 malformed row of data\/d\.csv/);

  writeFileSync(join(dir, 'data/e.jsonl'), '{"a":1}\n{"a":2}\n{"a":3}\n');
  const limited = await runStage(dataStage, 'raw', { source: 'data/e.jsonl', limit: 2 }, { pipelineDir: dir });
  assert.deepEqual(limited.summary, { rows: 2, skipped: 0 });
});

test('data stage: a malformed row fails by default, naming the file as written and the row', async () => {
  const dir = tempDir();
  writeFileSync(join(dir, 'd.jsonl'), '{"a":1}\n{oops}\n');
  await assert.rejects(runStage(dataStage, 'raw', { source: 'd.jsonl' }, { pipelineDir: dir }), (e: unknown) => {
    assert.ok(e instanceof FtcError);
    assert.match(formatError(e), /^d\.jsonl: row 2: error\[E_DATA_MALFORMED_ROW\]: invalid JSON/);
    assert.match(e.hint ?? '', /on_error = skip in data stage `raw`/);
    return true;
  });
});

test('data stage, on_error = skip: the warning names the first skipped rows and why; skipped.jsonl lists them all', async () => {
  const dir = tempDir();
  const lines = Array.from({ length: 9 }, (_, i) => (i % 2 ? `{"a":${i}` : `{"a":${i}}`));
  writeFileSync(join(dir, 'e.jsonl'), lines.join('\n') + '\n');
  const warnings: string[] = [];
  const { summary, artifact } = await runStage(dataStage, 'raw', { source: 'e.jsonl', on_error: 'skip' }, { pipelineDir: dir, warnings });
  assert.deepEqual(summary, { rows: 5, skipped: 4 });
  const skipped = readJsonlFile(join(artifact.dir, 'skipped.jsonl')) as Array<{ row: number; reason: string }>;
  assert.deepEqual(skipped.map((s) => s.row), [2, 4, 6, 8]);
  assert.ok(skipped.every((s) => s.reason.length > 0));
  assert.match(warnings[0], /skipped 4 malformed rows of e\.jsonl:\n {2}row 2: .+\n {2}row 4: .+\n {2}row 6: .+\n {2}row 8: .+$/);
});
