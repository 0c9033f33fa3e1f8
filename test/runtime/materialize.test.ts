import assert from 'node:assert/strict';
import { mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { FtcError } from '../../src/errors.js';
import { materializeOutput } from '../../src/runtime/materialize.js';
import { OUTPUT_MARK } from '../../src/runtime/output-mark.js';
import { snapshotTree, tempDir } from '../helpers.js';

function artifact(files: Record<string, string>): string {
  const dir = tempDir('ftc-artifact-');
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  writeFileSync(join(dir, 'manifest.json'), '{}');
  return dir;
}

const refused = (e: unknown) => e instanceof FtcError && e.code === 'E_OUTPUT_NOT_FTC';

test('a directory output ftc wrote is replaced wholesale, marked with its key and files', async () => {
  const pipelineDir = tempDir();
  assert.equal(await materializeOutput(artifact({ 'adapter_config.json': '{"r":8}' }), 'out', pipelineDir, 'k1', true, { stage: 'sft' }), true);
  assert.deepEqual(readdirSync(join(pipelineDir, 'out')).sort(), [OUTPUT_MARK, 'adapter_config.json']);
  const mark = JSON.parse(readFileSync(join(pipelineDir, 'out', OUTPUT_MARK), 'utf8'));
  assert.equal(mark.written_by, 'ftc');
  assert.equal(mark.key, 'k1');
  assert.equal(mark.stage, 'sft');
  assert.deepEqual(mark.files.map((f: { path: string }) => f.path), ['adapter_config.json']);
  // Cached and up to date: nothing is copied. Cached but from another key: replaced.
  assert.equal(await materializeOutput(artifact({ a: 'x' }), 'out', pipelineDir, 'k1', false), false);
  assert.equal(await materializeOutput(artifact({ a: 'x' }), 'out', pipelineDir, 'k2', false), true);
  assert.deepEqual(readdirSync(join(pipelineDir, 'out')).sort(), [OUTPUT_MARK, 'a']);
  assert.deepEqual(readdirSync(pipelineDir), ['out'], 'no temp or old copies are left beside it');
});

test('an empty directory is used; a checkpoints folder ftc wrote inside its output does not block replacing it', async () => {
  const pipelineDir = tempDir();
  mkdirSync(join(pipelineDir, 'out'));
  assert.equal(await materializeOutput(artifact({ a: 'x' }), 'out', pipelineDir, 'k1', true), true);
  mkdirSync(join(pipelineDir, 'out', 'checkpoints', 'step-10'), { recursive: true });
  writeFileSync(join(pipelineDir, 'out', 'checkpoints', 'step-10', 'trainer_state.json'), '{}');
  assert.equal(await materializeOutput(artifact({ a: 'y' }), 'out', pipelineDir, 'k2', true), true);
  assert.equal(readFileSync(join(pipelineDir, 'out', 'a'), 'utf8'), 'y');
});

test("a user's directory, data file, model directory or symlink as output is refused and left byte-identical", async () => {
  const pipelineDir = tempDir();
  mkdirSync(join(pipelineDir, 'userdata'));
  writeFileSync(join(pipelineDir, 'userdata', 'thesis.tex'), 'years of work');
  mkdirSync(join(pipelineDir, 'models', 'tiny'), { recursive: true });
  writeFileSync(join(pipelineDir, 'models', 'tiny', 'config.json'), '{"hidden_size":64}');
  mkdirSync(join(pipelineDir, 'data'));
  writeFileSync(join(pipelineDir, 'data', 'alpaca.json'), '[{"instruction":"x"}]');
  symlinkSync(join(pipelineDir, 'userdata'), join(pipelineDir, 'link'));
  const before = snapshotTree(pipelineDir);
  for (const output of ['userdata', 'models/tiny', 'data', 'data/alpaca.json', 'link', join(pipelineDir, 'userdata')]) {
    await assert.rejects(materializeOutput(artifact({ a: 'x' }), output, pipelineDir, 'k', true, { stage: 'sft' }), (e: unknown) => {
      assert.ok(refused(e), String(e));
      assert.match((e as FtcError).message, /^stage 'sft': output ".*" already exists and ftc will not replace it: /);
      assert.match((e as FtcError).hint!, /choose another output path, or move or delete it yourself/);
      return true;
    }, output);
  }
  // A gguf output onto a user's file of the same extension.
  writeFileSync(join(pipelineDir, 'mine.gguf'), 'my model');
  await assert.rejects(materializeOutput(artifact({ 'model.gguf': 'GGUF' }), 'mine.gguf', pipelineDir, 'k', true), refused);
  before.set('mine.gguf', Buffer.from('my model').toString('base64'));
  assert.deepEqual(snapshotTree(pipelineDir), before);
});

test('an output ftc wrote that the user changed, or added a file to, is refused', async () => {
  const pipelineDir = tempDir();
  await materializeOutput(artifact({ a: 'x' }), 'out', pipelineDir, 'k1', true);
  writeFileSync(join(pipelineDir, 'out', 'notes.txt'), 'mine');
  await assert.rejects(materializeOutput(artifact({ a: 'x' }), 'out', pipelineDir, 'k2', true), (e: unknown) => refused(e) && /notes\.txt is not one of the files ftc wrote/.test((e as Error).message));
  const other = tempDir();
  await materializeOutput(artifact({ a: 'x' }), 'out', other, 'k1', true);
  writeFileSync(join(other, 'out', 'a'), 'edited');
  await assert.rejects(materializeOutput(artifact({ a: 'x' }), 'out', other, 'k2', true), (e: unknown) => refused(e) && /a was changed after ftc wrote it/.test((e as Error).message));
  assert.equal(readFileSync(join(other, 'out', 'a'), 'utf8'), 'edited');
});

test('a single-file artifact goes to an output path with the same extension, marked beside it', async () => {
  const pipelineDir = tempDir();
  const art = artifact({ 'model.gguf': 'GGUF...' });
  assert.equal(await materializeOutput(art, 'exports/tiny.gguf', pipelineDir, 'k', true), true);
  assert.equal(readFileSync(join(pipelineDir, 'exports', 'tiny.gguf'), 'utf8'), 'GGUF...');
  assert.deepEqual(readdirSync(join(pipelineDir, 'exports')).sort(), [`.tiny.gguf${OUTPUT_MARK}`, 'tiny.gguf']);
  assert.equal(await materializeOutput(art, 'exports/tiny.gguf', pipelineDir, 'k', false), false);
  assert.equal(await materializeOutput(artifact({ 'model.gguf': 'GGUF2' }), 'exports/tiny.gguf', pipelineDir, 'k2', false), true);
  assert.equal(readFileSync(join(pipelineDir, 'exports', 'tiny.gguf'), 'utf8'), 'GGUF2');
});

test('an output that is the pipeline directory or above it is refused', async () => {
  const pipelineDir = join(tempDir(), 'pipelines');
  mkdirSync(pipelineDir);
  for (const output of ['.', '..', '/']) {
    await assert.rejects(materializeOutput(artifact({ a: 'x' }), output, pipelineDir, 'k', true), (e: unknown) => e instanceof FtcError && e.code === 'E_OUTPUT_UNSAFE');
  }
});
