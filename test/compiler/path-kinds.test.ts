import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { compile } from '../../src/compiler/index.js';
import { FtcError } from '../../src/errors.js';
import { readRecords } from '../../src/runtime/data/read.js';
import { tempDir } from '../helpers.js';

/** A device, a FIFO and a symlink loop as data sources: each said for what it is, by check and by the reader. */
function specials(): { dir: string; cases: [string, string][] } {
  const dir = tempDir();
  assert.equal(spawnSync('mkfifo', [join(dir, 'pipe.jsonl')]).status, 0);
  symlinkSync('loop-b.json', join(dir, 'loop-a.json'));
  symlinkSync('loop-a.json', join(dir, 'loop-b.json'));
  return {
    dir,
    cases: [
      ['/dev/zero', 'is a device (like /dev/zero or /dev/urandom), not a regular file'],
      ['/dev/urandom', 'is a device (like /dev/zero or /dev/urandom), not a regular file'],
      ['pipe.jsonl', 'is a named pipe (FIFO), not a regular file'],
      ['loop-a.json', 'is a symbolic link that leads in a loop (or through too many links)'],
    ],
  };
}

test('ftc check: a device, FIFO or symlink loop as a data source is E0352 saying which', () => {
  const { dir, cases } = specials();
  for (const [source, says] of cases) {
    const text = `pipeline p { seed = 1 }\ndata raw {\n  source = ${JSON.stringify(source)}\n  format = jsonl\n}\n`;
    const got = compile(text, join(dir, 'p.ft')).diagnostics.filter((d) => d.severity === 'error').map((d) => `${d.line}:${d.column} ${d.code} ${d.message}`);
    assert.deepEqual(got, [`3:12 E0352 data 'raw': source ${JSON.stringify(source)} ${says}; a file is expected.`], source);
  }
});

test('the data reader says the same, and never starts reading /dev/zero', async () => {
  const { dir, cases } = specials();
  for (const [source, says] of cases) {
    const file = source.startsWith('/') ? source : join(dir, source);
    await assert.rejects(async () => {
      for await (const _ of readRecords({ file, display: source, format: 'jsonl' })) { /* never reached */ }
    }, (e: unknown) => e instanceof FtcError && e.code === 'E_DATA_NOT_A_FILE' && e.message === `data source ${source} ${says}`, source);
  }
  await assert.rejects(async () => {
    for await (const _ of readRecords({ file: dir, display: 'data', format: 'jsonl' })) { /* never reached */ }
  }, (e: unknown) => e instanceof FtcError && e.code === 'E_DATA_NOT_A_FILE' && e.message === 'data source data is a directory, not a file');
});
