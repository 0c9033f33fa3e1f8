import assert from 'node:assert/strict';
import fs, { existsSync, mkdirSync, promises as fsp, readdirSync, writeFileSync } from 'node:fs';
import { syncBuiltinESMExports } from 'node:module';
import { join } from 'node:path';
import { test } from 'node:test';
import { FtcError } from '../../src/errors.js';
import { ArtifactCache } from '../../src/runtime/cache.js';
import { execute } from '../../src/runtime/executor.js';
import type { StageLogger } from '../../src/runtime/stage.js';
import { makeRegistry, stageImpl } from '../../src/runtime/stages/index.js';
import { CheckpointDir } from '../../src/runtime/train/checkpoint.js';
import { snapshotTree, tempDir } from '../helpers.js';
import { chainSpecs, countingRegistry, makePlan, pipelineInfo } from './plan-fixture.js';

const quiet: StageLogger = { info: () => undefined, warn: () => undefined, progress: () => ({ update: () => undefined, done: () => undefined }) };

function setup() {
  const dir = tempDir();
  writeFileSync(join(dir, 'a.txt'), 'alpha\n');
  writeFileSync(join(dir, 'b.txt'), 'gamma\n');
  const { runs, registry } = countingRegistry();
  const cache = new ArtifactCache(join(dir, '.ftc', 'cache'), () => undefined);
  const run = (reg = registry) => execute(makePlan(dir, chainSpecs()), pipelineInfo(dir), { registry: reg, cache, report: () => undefined, logger: () => quiet });
  return { dir, run, runs, cache };
}

const enospc = (path: string) => Object.assign(new Error(`ENOSPC: no space left on device, write '${path}'`), { code: 'ENOSPC', path });

test("a trainer output onto a user's directory fails before any stage runs, and the directory is byte-identical", async () => {
  const { dir, run, runs } = setup();
  mkdirSync(join(dir, 'out', 'adapter'), { recursive: true });
  writeFileSync(join(dir, 'out', 'adapter', 'thesis.tex'), 'years of work');
  const before = snapshotTree(join(dir, 'out'));
  await assert.rejects(run(), (e: unknown) => e instanceof FtcError && e.code === 'E_OUTPUT_NOT_FTC' &&
    e.message === `stage 'sft': output "out/adapter" already exists and ftc will not replace it: it is a non-empty directory ftc did not write (it has no .ftc-output.json)`);
  assert.deepEqual(runs, []);
  assert.deepEqual(snapshotTree(join(dir, 'out')), before);
});

test('a full disk while a stage writes is E_WRITE_FAILED, with no temporary left in the cache', async () => {
  const { dir, run } = setup();
  const { registry: counting } = countingRegistry();
  const registry = makeRegistry([
    { kind: 'data', version: 1, run: async (ctx) => { throw enospc(join(ctx.outDir, 'rows.txt')); } },
    stageImpl('tokenizer', counting),
    stageImpl('trainer', counting),
  ]);
  await assert.rejects(run(registry), (e: unknown) => e instanceof FtcError && e.code === 'E_WRITE_FAILED' &&
    /^could not write stage 'raw' into the cache: no space is left on the device \(ENOSPC at .*rows\.txt\); nothing partial was left behind$/.test(e.message));
  assert.deepEqual(readdirSync(join(dir, '.ftc', 'cache', '.tmp')), []);
});

test('a full disk while the cache commits is E_WRITE_FAILED saying how much, and the temp dir is removed', async () => {
  const cache = new ArtifactCache(join(tempDir(), 'cache'), () => undefined);
  const key = 'ab'.repeat(32);
  const tmp = await cache.makeTempDir(key);
  writeFileSync(join(tmp, 'big.bin'), Buffer.alloc(3000));
  const open = fsp.open;
  fsp.open = (async (path: string, ...rest: unknown[]) => {
    if (String(path).endsWith('manifest.json')) throw enospc(String(path));
    return (open as (...a: unknown[]) => unknown)(path, ...rest);
  }) as typeof fsp.open;
  try {
    await assert.rejects(cache.commit(tmp, { key, stage: 'raw', kind: 'data', version: 1, summary: {} }), (e: unknown) => e instanceof FtcError && e.code === 'E_WRITE_FAILED' &&
      e.message.startsWith(`could not write the cache entry of stage 'raw' in ${cache.root} (2.9 KiB to write): no space is left on the device (ENOSPC at `));
  } finally {
    fsp.open = open;
  }
  assert.equal(existsSync(tmp), false);
  assert.equal(existsSync(cache.entryDir(key)), false);
});

test('a full disk while a checkpoint is saved is E_WRITE_FAILED and leaves no step-N.tmp-* behind', async () => {
  const root = join(tempDir(), 'checkpoints');
  const dir = new CheckpointDir(root, { save: (d) => writeFileSync(join(d, 'adapter_model.safetensors'), 'x'), load: () => new Map() });
  const write = fs.writeFileSync;
  fs.writeFileSync = ((path: fs.PathOrFileDescriptor, ...rest: unknown[]) => {
    if (String(path).endsWith('trainer_state.json')) throw enospc(String(path));
    return (write as (...a: unknown[]) => void)(path, ...rest);
  }) as typeof fs.writeFileSync;
  syncBuiltinESMExports();
  try {
    await assert.rejects(dir.save({ step: 10, seed: 1, data: { epoch: 0, index: 0 } as never, optimizer: { step: 10, m: {}, v: {} }, adapter: new Map(), history: [], early: { best: null, bad: 0 }, pending: { lossSum: 0, steps: 0, tokens: 0 } }),
      (e: unknown) => e instanceof FtcError && e.code === 'E_WRITE_FAILED' && e.message.startsWith(`could not write checkpoint step-10 in ${root}: no space is left on the device`));
  } finally {
    fs.writeFileSync = write;
    syncBuiltinESMExports();
  }
  assert.deepEqual(readdirSync(root), []);
});
