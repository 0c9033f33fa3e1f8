import assert from 'node:assert/strict';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { FtcError } from '../../src/errors.js';
import { KEY_MARKER, materializeOutput } from '../../src/runtime/materialize.js';
import { tempDir } from '../helpers.js';

function artifact(files: Record<string, string>): string {
  const dir = tempDir('ftc-artifact-');
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  writeFileSync(join(dir, 'manifest.json'), '{}');
  return dir;
}

test('a directory output replaces the old one wholesale, without the manifest, marked with its key', async () => {
  const pipelineDir = tempDir();
  mkdirSync(join(pipelineDir, 'out'));
  writeFileSync(join(pipelineDir, 'out', 'stale.txt'), 'old');
  assert.equal(await materializeOutput(artifact({ 'adapter_config.json': '{"r":8}' }), 'out', pipelineDir, 'k1', true), true);
  assert.deepEqual(readdirSync(join(pipelineDir, 'out')).sort(), [KEY_MARKER, 'adapter_config.json']);
  assert.equal(readFileSync(join(pipelineDir, 'out', KEY_MARKER), 'utf8'), 'k1\n');
  // Cached and up to date: nothing is copied. Cached but from another key: copied.
  assert.equal(await materializeOutput(artifact({ a: 'x' }), 'out', pipelineDir, 'k1', false), false);
  assert.equal(await materializeOutput(artifact({ a: 'x' }), 'out', pipelineDir, 'k2', false), true);
  assert.deepEqual(readdirSync(pipelineDir), ['out'], 'no temp or old copies are left beside it');
});

test('a single-file artifact goes to an output path with the same extension', async () => {
  const pipelineDir = tempDir();
  const art = artifact({ 'model.gguf': 'GGUF...' });
  assert.equal(await materializeOutput(art, 'exports/tiny.gguf', pipelineDir, 'k', true), true);
  assert.equal(readFileSync(join(pipelineDir, 'exports', 'tiny.gguf'), 'utf8'), 'GGUF...');
  assert.equal(await materializeOutput(art, 'exports/tiny.gguf', pipelineDir, 'k', false), false);
});

test('an output that is the pipeline directory or above it is refused', async () => {
  const pipelineDir = join(tempDir(), 'pipelines');
  mkdirSync(pipelineDir);
  for (const output of ['.', '..', '/']) {
    await assert.rejects(materializeOutput(artifact({ a: 'x' }), output, pipelineDir, 'k', true), (e: unknown) => e instanceof FtcError && e.code === 'E_OUTPUT_UNSAFE');
  }
});
