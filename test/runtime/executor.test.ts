import assert from 'node:assert/strict';
import { promises as fsp, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { FtcError } from '../../src/errors.js';
import { ArtifactCache } from '../../src/runtime/cache.js';
import { execute, type ExecuteOptions } from '../../src/runtime/executor.js';
import { lockFromPlan, readLock, writeLock } from '../../src/runtime/lockfile.js';
import type { StageLogger } from '../../src/runtime/stage.js';
import { makeRegistry, stageImpl } from '../../src/runtime/stages/index.js';
import { tempDir } from '../helpers.js';
import { chainSpecs, countingRegistry, makePlan, pipelineInfo } from './plan-fixture.js';

const quiet: StageLogger = { info: () => undefined, warn: () => undefined, progress: () => ({ update: () => undefined, done: () => undefined }) };

function setup() {
  const dir = tempDir();
  writeFileSync(join(dir, 'a.txt'), 'alpha\nbeta\n');
  writeFileSync(join(dir, 'b.txt'), 'gamma\n');
  const { runs, registry } = countingRegistry();
  const warnings: string[] = [];
  const lines: string[] = [];
  const cache = new ArtifactCache(join(dir, '.ftc', 'cache'), (m) => warnings.push(m));
  const run = async (specs = chainSpecs(), opts: ExecuteOptions = {}) => {
    runs.length = 0;
    const plan = makePlan(dir, specs);
    const result = await execute(plan, pipelineInfo(dir), { registry, cache, report: (l) => lines.push(l), logger: () => quiet, ...opts });
    await writeLock(join(dir, 'p.ft'), result.lock);
    return [...runs];
  };
  return { dir, run, warnings, lines, cache, runs };
}

test('a second run executes no stage and reports every stage as cached', async () => {
  const { dir, run, lines } = setup();
  assert.deepEqual(await run(), ['raw', 'other', 'tok', 'sft']);
  lines.length = 0;
  assert.deepEqual(await run(), []);
  assert.equal(lines.length, 4);
  assert.ok(lines.every((l) => l.startsWith('cached ')), lines.join('\n'));
  assert.match(lines[2], /^cached tok \(tokenizer\)  -  rows 2  tokens 11$/);
  assert.equal(readFileSync(join(dir, 'out/adapter/adapter.txt'), 'utf8'), 'ALPHA\nBETA\nlr=0.0002\n');
});

test('editing a data file (same path, same size) re-runs that stage and its downstream only', async () => {
  const { dir, run } = setup();
  await run();
  writeFileSync(join(dir, 'a.txt'), 'alpha\nbetA\n');
  assert.deepEqual(await run(), ['raw', 'tok', 'sft']);
  assert.equal(readFileSync(join(dir, 'out/adapter/adapter.txt'), 'utf8'), 'ALPHA\nBETA\nlr=0.0002\n');
  writeFileSync(join(dir, 'b.txt'), 'GAMMA\n');
  assert.deepEqual(await run(), ['other']);
});

test('changing a trainer parameter re-runs only the trainer; a log-only parameter re-runs nothing', async () => {
  const { dir, run } = setup();
  await run();
  assert.deepEqual(await run(chainSpecs({ lr: 0.0001 })), ['sft']);
  assert.equal(readFileSync(join(dir, 'out/adapter/adapter.txt'), 'utf8'), 'ALPHA\nBETA\nlr=0.0001\n');
  assert.deepEqual(await run(chainSpecs({ lr: 0.0001, logEvery: 5 })), []);
  // Back to the first value: its entry is still cached, and the output is put back.
  assert.deepEqual(await run(chainSpecs({ lr: 0.0002 })), []);
  assert.equal(readFileSync(join(dir, 'out/adapter/adapter.txt'), 'utf8'), 'ALPHA\nBETA\nlr=0.0002\n');
});

test('--force re-runs the stage and everything downstream; an unknown name is a user error', async () => {
  const { run } = setup();
  await run();
  assert.deepEqual(await run(chainSpecs(), { force: ['tok'] }), ['tok', 'sft']);
  assert.deepEqual(await run(), []);
  await assert.rejects(run(chainSpecs(), { force: ['nope'] }), (e: unknown) => e instanceof FtcError && e.code === 'E_FORCE_UNKNOWN_STAGE' && /raw, other, tok, sft/.test(e.hint ?? ''));
});

test('--frozen fails before running anything when the lock would change, naming the change', async () => {
  const { dir, run, runs } = setup();
  await assert.rejects(run(chainSpecs(), { frozen: true }), /there is no lock file yet/);
  assert.deepEqual(runs, []);
  await run();
  const before = readFileSync(join(dir, 'p.ft.lock'), 'utf8');
  await fsp.rm(join(dir, '.ftc'), { recursive: true });
  // Unchanged lock: --frozen runs (everything, since the cache is gone).
  assert.deepEqual(await run(chainSpecs(), { frozen: true }), ['raw', 'other', 'tok', 'sft']);
  let err: unknown;
  try {
    await run(chainSpecs({ lr: 0.0001 }), { frozen: true });
  } catch (e) {
    err = e;
  }
  assert.ok(err instanceof FtcError && err.code === 'E_LOCK_FROZEN');
  assert.match(err.message, /stage sft: parameter lr changed from 0.0002 to 0.0001/);
  assert.deepEqual(runs, []);
  assert.equal(readFileSync(join(dir, 'p.ft.lock'), 'utf8'), before);
});

test('--no-cache runs everything and leaves the cache untouched', async () => {
  const { dir, run, cache } = setup();
  await run();
  const entries = (await cache.entries()).map((e) => e.key);
  writeFileSync(join(dir, 'a.txt'), 'delta\n');
  assert.deepEqual(await run(chainSpecs(), { noCache: true }), ['raw', 'other', 'tok', 'sft']);
  assert.deepEqual((await cache.entries()).map((e) => e.key), entries);
  assert.equal(readFileSync(join(dir, 'out/adapter/adapter.txt'), 'utf8'), 'DELTA\nlr=0.0002\n');
});

test('a changed byte in a cache entry is detected, reported and rebuilt', async () => {
  const { dir, run, warnings, cache } = setup();
  await run();
  const plan = makePlan(dir, chainSpecs());
  const tokKey = plan.stages[2].key;
  const file = join(cache.entryDir(tokKey), 'sub', 'tokens.txt');
  writeFileSync(file, readFileSync(file, 'utf8').replace('ALPHA', 'ALPHX'));
  // A fresh cache object is a fresh process: checksums are verified on first use.
  const fresh = new ArtifactCache(cache.root, (m) => warnings.push(m));
  const { runs, registry } = countingRegistry();
  await execute(plan, pipelineInfo(dir), { registry, cache: fresh, report: () => undefined, logger: () => quiet });
  assert.deepEqual(runs, ['tok']);
  assert.equal(warnings.length, 1);
  assert.match(warnings[0], new RegExp(`cache entry ${tokKey.slice(0, 12)} \\(stage tok\\) is corrupt: file sub/tokens.txt does not match its sha256 checksum`));
  assert.equal(readFileSync(file, 'utf8'), 'ALPHA\nBETA\n');
  assert.equal((await fresh.check(tokKey, true)).status, 'hit');
});

test('a failing stage commits nothing and leaves no temp dir', async () => {
  const dir = tempDir();
  const cache = new ArtifactCache(join(dir, 'cache'));
  const registry = makeRegistry([
    {
      kind: 'data',
      version: 1,
      run: async (ctx) => {
        await fsp.writeFile(join(ctx.outDir, 'half.txt'), 'x');
        throw new FtcError('E_TEST', 'row 3 is malformed');
      },
    },
  ]);
  writeFileSync(join(dir, 'a.txt'), 'a');
  const plan = makePlan(dir, [chainSpecs()[0]]);
  await assert.rejects(execute(plan, pipelineInfo(dir), { registry, cache, report: () => undefined, logger: () => quiet }), /row 3 is malformed/);
  assert.deepEqual(await cache.entries(), []);
  assert.deepEqual(await fsp.readdir(join(dir, 'cache', '.tmp')), []);
  assert.deepEqual(await fsp.readdir(join(dir, 'cache', '.locks')), []);
});

test('an unknown stage kind fails before running anything, listing the known kinds', async () => {
  const { registry } = countingRegistry();
  assert.throws(() => stageImpl('export', registry), (e: unknown) => e instanceof FtcError && e.code === 'E_UNKNOWN_STAGE_KIND' && e.hint === 'known stage kinds: data, tokenizer, trainer');
  const { dir, run } = setup();
  const specs = [...chainSpecs(), { name: 'ex', kind: 'export' as const, params: { model: 'sft', output: 'x' }, inputs: ['sft'] }];
  await assert.rejects(run(specs), /no runtime implementation for stage kind 'export'/);
  assert.deepEqual(await fsp.readdir(dir).then((xs) => xs.filter((x) => x === 'out')), []);
});

test('the lock file lists each stage once, sorted, without non-output parameters', async () => {
  const { dir, run } = setup();
  await run();
  const lock = await readLock(join(dir, 'p.ft'));
  assert.deepEqual(Object.keys(lock!.stages), ['other', 'raw', 'sft', 'tok']);
  assert.deepEqual(lock!.stages.sft.params, { data: 'tok', lr: 0.0002, model: 'adapter' });
  assert.deepEqual(lock, lockFromPlan(makePlan(dir, chainSpecs())));
});
