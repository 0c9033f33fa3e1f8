import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { FtcError } from '../../../src/errors.js';
import { exportToPath } from '../../../src/runtime/export/to-path.js';
import { OUTPUT_MARK } from '../../../src/runtime/output-mark.js';
import { snapshotTree, tempDir } from '../../helpers.js';

test("ftc export --force never replaces a user's directory or file, and says how to proceed", () => {
  const dir = tempDir();
  mkdirSync(join(dir, 'mine'));
  writeFileSync(join(dir, 'mine', 'notes.txt'), 'mine');
  writeFileSync(join(dir, 'model.gguf'), 'my own gguf');
  const before = snapshotTree(dir);
  for (const [out, format] of [[join(dir, 'mine'), 'merged'], [join(dir, 'model.gguf'), 'gguf']] as const) {
    assert.throws(() => exportToPath({ model: join(dir, 'nomodel'), adapter: join(dir, 'noadapter'), format, dtype: 'f16', out, force: true }),
      (e: unknown) => e instanceof FtcError && e.code === 'E_OUTPUT_NOT_FTC' && e.message.startsWith(`--out "${out}" already exists and ftc will not replace it: `) &&
        e.hint === 'choose another output path, or move or delete it yourself if you no longer need it');
  }
  assert.deepEqual(snapshotTree(dir), before);
});

test('an export ftc wrote is replaced only with --force', () => {
  const dir = tempDir();
  mkdirSync(join(dir, 'out'));
  writeFileSync(join(dir, 'out', OUTPUT_MARK), JSON.stringify({ written_by: 'ftc', files: [] }));
  assert.throws(() => exportToPath({ model: join(dir, 'nomodel'), adapter: join(dir, 'noadapter'), format: 'merged', dtype: 'f16', out: join(dir, 'out') }),
    (e: unknown) => e instanceof FtcError && e.code === 'E_EXPORT_OUT_EXISTS');
});
