import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { compile, planPipeline } from '../../src/compiler/index.js';
import { runCli, tempDir } from '../helpers.js';

const RECORDS = JSON.stringify([{ instruction: 'Say hi', output: 'hi' }, { instruction: 'Say yo', output: 'yo' }]);

function pipeline(source: string): string {
  return `pipeline p {\n  seed = 1\n}\n\ndata raw {\n  source = "${source}"\n}\n\npreprocess prompts {\n  input    = raw\n  prompt   = "{instruction}"\n  response = "{output}"\n}\n`;
}

/** A pipeline directory that is a git work tree, and a data file elsewhere (a shared store). */
function layout() {
  const repo = tempDir('ftc-abs-repo-');
  mkdirSync(join(repo, '.git'));
  mkdirSync(join(repo, 'pipelines'));
  mkdirSync(join(repo, 'data'));
  writeFileSync(join(repo, 'data/inside.json'), RECORDS);
  const store = tempDir('ftc-abs-store-');
  writeFileSync(join(store, 'outside.json'), RECORDS);
  return { repo, store, file: join(repo, 'pipelines/p.ft') };
}

test('W0301 only for an absolute path inside the checkout, with the relative spelling to use', () => {
  const { repo, store, file } = layout();
  const inside = compile(pipeline(join(repo, 'data/inside.json')), file);
  assert.deepEqual(inside.diagnostics.map((d) => [d.code, d.line, d.column]), [['W0301', 6, 12]]);
  assert.match(inside.diagnostics[0]!.message, /inside this checkout .*"\.\.\/data\/inside\.json"/);
  assert.deepEqual(compile(pipeline(join(store, 'outside.json')), file).diagnostics, []);
  // An override is not checked in: no warning.
  const over = compile(pipeline('../data/inside.json'), file, { overrides: [`raw.source="${join(repo, 'data/inside.json')}"`] });
  assert.deepEqual(over.diagnostics, []);
});

test('plan hashes an absolute path where it is, not below the pipeline directory', async () => {
  const { store, file } = layout();
  const { ir } = compile(pipeline(join(store, 'outside.json')), file);
  const plan = await planPipeline(ir!);
  const raw = plan.stages.find((s) => s.name === 'raw')!;
  assert.deepEqual(raw.fileHashes, { [join(store, 'outside.json')]: createHash('sha256').update(RECORDS).digest('hex') });
});

test('ftc check, plan and run accept an absolute path', () => {
  const { store, file } = layout();
  writeFileSync(file, pipeline(join(store, 'outside.json')));
  const env = { FTC_CACHE_DIR: join(tempDir(), 'cache') };
  const check = runCli(['check', file], { env });
  assert.equal(check.status, 0, check.stderr);
  const plan = runCli(['plan', file], { env });
  assert.equal(plan.status, 0, plan.stderr);
  const run = runCli(['run', file], { env });
  assert.equal(run.status, 0, run.stderr);
  assert.match(run.stdout, /ran\s+raw \(data\)/);
});
