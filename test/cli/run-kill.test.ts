import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { repoRoot, runCli, tempDir } from '../helpers.js';

/**
 * Real `ftc run` processes on a real pipeline (data → preprocess over a generated jsonl large
 * enough that the data stage takes a while): SIGKILL in the middle of a stage, and two runs at once.
 */
const ROWS = 40_000;

function makePipeline(): string {
  const dir = tempDir('ftc-run-kill-');
  const lines: string[] = [];
  for (let i = 0; i < ROWS; i++) lines.push(JSON.stringify({ instruction: `Say the number ${i} in words`, input: 'x'.repeat(i % 50), output: `number ${i}` }));
  writeFileSync(join(dir, 'big.jsonl'), lines.join('\n') + '\n');
  writeFileSync(
    join(dir, 'p.ft'),
    ['pipeline kill {', '  seed = 7', '}', 'data raw {', '  source = "big.jsonl"', '}', 'preprocess prompts {', '  input = raw', '  prompt = "{instruction}\\n{input}"', '  response = "{output}"', '  eval_split = 0.1', '}', ''].join('\n'),
  );
  return dir;
}

function startRun(dir: string) {
  const child = spawn(process.execPath, [join(repoRoot(), 'dist/src/cli/main.js'), 'run', 'p.ft'], { cwd: dir, env: { ...process.env, CI: 'true', FTC_CACHE_DIR: cacheDir(dir) } });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => (stderr += d));
  const done = new Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }>((res) =>
    child.on('close', (code, signal) => res({ code, signal, stdout, stderr })),
  );
  return { child, done };
}

const cacheDir = (dir: string) => join(dir, '.ftc', 'cache');
const entries = (dir: string) => (existsSync(cacheDir(dir)) ? readdirSync(cacheDir(dir)).filter((n) => /^[0-9a-f]{64}$/.test(n)).sort() : []);
const manifestFiles = (dir: string, key: string) => JSON.parse(readFileSync(join(cacheDir(dir), key, 'manifest.json'), 'utf8')).files;

let reference: { dir: string; keys: string[] } | undefined;

test('two ftc run of the same pipeline at once both finish with the same, correct results', { timeout: 300_000 }, async () => {
  const dir = makePipeline();
  const [a, b] = await Promise.all([startRun(dir).done, startRun(dir).done]);
  assert.equal(a.code, 0, a.stderr);
  assert.equal(b.code, 0, b.stderr);
  for (const r of [a, b]) {
    assert.match(r.stdout, /^(ran   |cached) raw \(data\) .* rows 40,000  skipped 0$/m);
    assert.match(r.stdout, /^(ran   |cached) prompts \(preprocess\) .* rows 36,000  eval_rows 4,000/m);
  }
  // Each stage was built by exactly one of the two processes; the other waited and reused it.
  const ran = (a.stdout + b.stdout).match(/^ran /gm) ?? [];
  assert.equal(ran.length, 2, a.stdout + b.stdout);
  assert.equal(entries(dir).length, 2);
  const verify = runCli(['cache', 'verify', 'p.ft'], { cwd: dir, env: { FTC_CACHE_DIR: cacheDir(dir) } });
  assert.equal(verify.status, 0, verify.stdout + verify.stderr);
  reference = { dir, keys: entries(dir) };
});

test('SIGKILL in the middle of a stage: the partial entry is never accepted and the next run finishes correctly', { timeout: 300_000 }, async () => {
  const dir = makePipeline();
  const run = startRun(dir);
  const tmpRoot = join(cacheDir(dir), '.tmp');
  // Kill as soon as the data stage is writing into its temp dir and before it is committed.
  let killedMidStage = false;
  for (let i = 0; i < 3000 && run.child.exitCode === null; i++) {
    const writing = existsSync(tmpRoot) && readdirSync(tmpRoot).some((d) => readdirSync(join(tmpRoot, d)).length > 0);
    if (writing && entries(dir).length === 0) {
      run.child.kill('SIGKILL');
      killedMidStage = true;
      break;
    }
    await new Promise((r) => setTimeout(r, 10));
  }
  const killed = await run.done;
  assert.ok(killedMidStage, 'the data stage finished before it could be killed; make the data file larger');
  assert.equal(killed.signal, 'SIGKILL');
  assert.deepEqual(entries(dir), [], 'nothing was committed before the kill');
  assert.ok(readdirSync(tmpRoot).length > 0, 'the killed run left its temp dir behind');
  assert.ok(readdirSync(join(cacheDir(dir), '.locks')).length > 0, 'and its key lock');

  const again = await startRun(dir).done;
  assert.equal(again.code, 0, again.stderr);
  assert.match(again.stdout, /^ran    raw \(data\) .* rows 40,000/m);
  assert.match(again.stdout, /^ran    prompts \(preprocess\) .* rows 36,000  eval_rows 4,000/m);
  assert.deepEqual(readdirSync(tmpRoot), [], 'stale temp dirs are cleaned');
  assert.deepEqual(readdirSync(join(cacheDir(dir), '.locks')), [], 'the stale lock was broken and released');
  // Same pipeline, same data, same seed: byte-identical to an undisturbed run.
  if (reference) {
    assert.deepEqual(entries(dir), reference.keys);
    for (const key of reference.keys) assert.deepEqual(manifestFiles(dir, key), manifestFiles(reference.dir, key));
  }
  const third = runCli(['run', 'p.ft'], { cwd: dir, env: { FTC_CACHE_DIR: cacheDir(dir) } });
  assert.equal(third.status, 0, third.stderr);
  assert.equal((third.stdout.match(/^cached /gm) ?? []).length, 2, third.stdout);
});
