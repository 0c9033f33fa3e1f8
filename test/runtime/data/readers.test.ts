import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parquetWriteBuffer } from 'hyparquet-writer';
import { tempDir } from '../../helpers.js';
import { readRecords, type ReadOptions, type ReadStats } from '../../../src/runtime/data/read.js';
import { FtcError } from '../../../src/errors.js';
import { formatError } from '../../../src/cli/output.js';

async function collect(opts: ReadOptions, stats?: ReadStats) {
  const out = [];
  for await (const r of readRecords(opts, stats)) out.push(r);
  return out;
}

function file(name: string, content: string | Uint8Array): string {
  const path = join(tempDir(), name);
  writeFileSync(path, content);
  return path;
}

async function rejectsWith(promise: Promise<unknown>, code: string, pattern: RegExp): Promise<FtcError> {
  try {
    await promise;
  } catch (e) {
    assert.ok(e instanceof FtcError, `expected FtcError, got ${e}`);
    assert.equal(e.code, code);
    // What the user reads: the CLI's rendering, location first.
    assert.match(formatError(e), pattern);
    return e;
  }
  assert.fail('expected a rejection');
}

test('json array: records, nested values, strings holding brackets and escapes', async () => {
  const records = [
    { a: 'x ] } [ {', b: [1, { c: 2 }] },
    { a: 'quote \\" and \\\\', b: null },
    { a: 'ünïcødé ✓', b: true },
  ];
  const path = file('d.json', '\uFEFF' + JSON.stringify(records, null, 2));
  assert.deepEqual(await collect({ file: path }), records);
});

test('json array: a malformed element names the file, the row and the JSON error', async () => {
  const path = file('bad.json', '[\n {"a": 1},\n {"a": }\n, {"a": 3}]');
  const err = await rejectsWith(collect({ file: path, display: 'data/bad.json' }), 'E_DATA_MALFORMED_ROW', /^data\/bad\.json: row 2: error\[E_DATA_MALFORMED_ROW\]: invalid JSON: .* \(the row starts on line 3\)/);
  assert.equal(err.where?.row, 2);
  assert.equal(err.where?.line, 3);
  const stats = { rows: 0, skipped: 0 };
  assert.deepEqual(await collect({ file: path, onError: 'skip' }, stats), [{ a: 1 }, { a: 3 }]);
  assert.deepEqual(stats, { rows: 2, skipped: 1 });
});

test('json array: not an array, truncated, non-object rows', async () => {
  await rejectsWith(collect({ file: file('o.json', '{"a": 1}') }), 'E_DATA_UNREADABLE', /expected a JSON array/);
  await rejectsWith(collect({ file: file('t.json', '[{"a": 1}, {"a": "unterminated') }), 'E_DATA_UNREADABLE', /t\.json: row 2: error\[E_DATA_UNREADABLE\]: the file ends inside row 2/);
  await rejectsWith(collect({ file: file('t2.json', '[{"a": 1}, ') }), 'E_DATA_UNREADABLE', /before the closing/);
  await rejectsWith(collect({ file: file('n.json', '[{"a": 1}, 42]') }), 'E_DATA_MALFORMED_ROW', /row 2: error\[E_DATA_MALFORMED_ROW\]: expected a record \(an object\), found number/);
  assert.deepEqual(await collect({ file: file('e.json', ' [ ] ') }), []);
});

test('jsonl: row numbers are 1-based line numbers, blank lines ignored, CRLF accepted', async () => {
  const path = file('d.jsonl', '{"a":1}\r\n\n{"a":2}\n{"a": 3,}\n{"a":4}');
  await rejectsWith(collect({ file: path }), 'E_DATA_MALFORMED_ROW', /: row 4: error\[E_DATA_MALFORMED_ROW\]: invalid JSON/);
  const stats = { rows: 0, skipped: 0 };
  assert.deepEqual(await collect({ file: path, onError: 'skip' }, stats), [{ a: 1 }, { a: 2 }, { a: 4 }]);
  assert.equal(stats.skipped, 1);
});

test('csv: RFC 4180 quoting, escaped quotes, embedded newlines and commas, CRLF', async () => {
  const text = 'id,text,note\r\n1,"say ""hi"", then\r\nleave",plain\r\n2,,"a,b"\r\n3,x"y,\r\n';
  const rows = await collect({ file: file('d.csv', text) });
  assert.deepEqual(rows, [
    { id: '1', text: 'say "hi", then\r\nleave', note: 'plain' },
    { id: '2', text: '', note: 'a,b' },
    { id: '3', text: 'x"y', note: '' },
  ]);
});

test('csv: field count mismatch and unclosed quote are malformed rows with line numbers', async () => {
  const path = file('bad.csv', 'a,b\n1,2\n"multi\nline",3,4\n5,6\n7,"open\n');
  const err = await rejectsWith(collect({ file: path }), 'E_DATA_MALFORMED_ROW', /: row 2: error\[E_DATA_MALFORMED_ROW\]: expected 2 fields \(as in the header\), found 3 \(the row starts on line 3\)/);
  assert.equal(err.where?.line, 3);
  const stats = { rows: 0, skipped: 0 };
  assert.deepEqual(await collect({ file: path, onError: 'skip' }, stats), [{ a: '1', b: '2' }, { a: '5', b: '6' }]);
  assert.equal(stats.skipped, 2);
  await rejectsWith(collect({ file: file('q.csv', 'a\n"x"y\n') }), 'E_DATA_MALFORMED_ROW', /after a closing quote/);
});

test('csv: typed fields are converted from text; a bad number is a malformed row', async () => {
  const path = file('t.csv', 'q,score,ok\nx,1.5,true\ny,abc,false\n');
  await rejectsWith(
    collect({ file: path, fields: { score: 'number', ok: 'boolean' } }),
    'E_DATA_MALFORMED_ROW',
    /: row 2: error\[E_DATA_MALFORMED_ROW\]: field "score" should be a number, found the string "abc" \(the row starts on line 3\)/,
  );
  const stats = { rows: 0, skipped: 0 };
  const rows = await collect({ file: path, fields: { score: 'number', ok: 'boolean' }, onError: 'skip' }, stats);
  assert.deepEqual(rows, [{ q: 'x', score: 1.5, ok: true }]);
});

test('renames, schema, limit', async () => {
  const path = file('r.jsonl', '{"q":"a","n":1}\n{"q":"b","n":2}\n{"q":"c"}\n');
  assert.deepEqual(await collect({ file: path, rename: { question: 'q' }, limit: 2 }), [
    { n: 1, question: 'a' },
    { n: 2, question: 'b' },
  ]);
  await rejectsWith(collect({ file: path, fields: { n: 'number' } }), 'E_DATA_MALFORMED_ROW', /: row 3: error\[E_DATA_MALFORMED_ROW\]: field "n" is missing/);
  // In JSON a string is not a number: no conversion outside csv/text.
  await rejectsWith(collect({ file: file('s.jsonl', '{"n":"1"}\n'), fields: { n: 'number' } }), 'E_DATA_MALFORMED_ROW', /should be a number/);
});

test('text: line mode skips blank lines, file mode reads one record', async () => {
  const path = file('t.txt', 'first line\n\nsecond line\r\n');
  assert.deepEqual(await collect({ file: path }), [{ text: 'first line' }, { text: 'second line' }]);
  assert.deepEqual(await collect({ file: path, textMode: 'file' }), [{ text: 'first line\n\nsecond line\r\n' }]);
});

test('parquet: rows from every row group, in order, with 1-based numbering across groups', async () => {
  const n = 25;
  const buffer = parquetWriteBuffer({
    columnData: [
      { name: 'instruction', data: Array.from({ length: n }, (_, i) => `task ${i}`), type: 'STRING' },
      { name: 'n', data: Int32Array.from({ length: n }, (_, i) => i * 2), type: 'INT32' },
      { name: 'big', data: BigInt64Array.from({ length: n }, (_, i) => BigInt(i)), type: 'INT64' },
    ],
    rowGroupSize: 10,
  });
  const path = file('d.parquet', new Uint8Array(buffer));
  const rows = await collect({ file: path });
  assert.equal(rows.length, n);
  assert.deepEqual(rows[0], { instruction: 'task 0', n: 0, big: 0 });
  assert.deepEqual(rows[24], { instruction: 'task 24', n: 48, big: 24 });
  await rejectsWith(collect({ file: path, fields: { n: 'string' } }), 'E_DATA_MALFORMED_ROW', /: row 1: error\[E_DATA_MALFORMED_ROW\]: field "n" should be a string/);
  await rejectsWith(collect({ file: file('x.parquet', 'not parquet at all') }), 'E_DATA_UNREADABLE', /not a readable parquet file/);
});

test('format from extension; unknown extension and missing file are FtcErrors with a hint', async () => {
  await rejectsWith(collect({ file: file('d.xyz', '') }), 'E_DATA_FORMAT', /cannot tell the format/);
  await rejectsWith(collect({ file: '/nonexistent/x.json', display: 'x.json' }), 'E_DATA_NOT_FOUND', /not found: x\.json/);
  assert.deepEqual(await collect({ file: file('d.data', '{"a":1}\n'), format: 'jsonl' }), [{ a: 1 }]);
});
