import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createWriteStream } from 'node:fs';
import { join } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { readRecords } from '../../../src/runtime/data/read.js';
import { tempDir } from '../../helpers.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

const ROWS = 60_000;
const record = (i: number) => ({ instruction: `Describe item ${i}.`, input: 'x'.repeat(400), output: `Item ${i} is fine.` });

async function writeFile(path: string, kind: 'jsonl' | 'json'): Promise<number> {
  const out = createWriteStream(path);
  let bytes = 0;
  const put = (s: string) => {
    bytes += s.length;
    return out.write(s) ? Promise.resolve() : new Promise<void>((r) => out.once('drain', () => r()));
  };
  if (kind === 'json') await put('[\n');
  for (let i = 0; i < ROWS; i++) await put(kind === 'jsonl' ? JSON.stringify(record(i)) + '\n' : (i ? ',\n' : '') + JSON.stringify(record(i)));
  if (kind === 'json') await put('\n]\n');
  await new Promise<void>((r) => out.end(() => r()));
  return bytes;
}

/**
 * Reads a ~27 MB file record by record and samples the live heap (after a full GC) along the
 * way: it must stay far below the file's size, which it would not if any stage of the reader
 * held the file or the records.
 */
for (const kind of ['jsonl', 'json'] as const) {
  test(`${kind}: a large file streams with bounded heap`, async () => {
    const path = join(tempDir(), `big.${kind}`);
    const bytes = await writeFile(path, kind);
    gc();
    const base = process.memoryUsage().heapUsed;
    let peak = 0, rows = 0;
    for await (const r of readRecords({ file: path })) {
      if (++rows % 10_000 === 0) {
        assert.equal(r.instruction, `Describe item ${rows - 1}.`);
        gc();
        peak = Math.max(peak, process.memoryUsage().heapUsed - base);
      }
    }
    assert.equal(rows, ROWS);
    assert.ok(bytes > 25e6, `file is ${bytes} bytes`);
    assert.ok(peak < 12e6, `live heap grew by ${(peak / 1e6).toFixed(1)} MB while reading ${(bytes / 1e6).toFixed(0)} MB`);
  });
}
