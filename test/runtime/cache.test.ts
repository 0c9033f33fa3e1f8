import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { promises as fsp, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { ArtifactCache, defaultCacheDir, type Manifest } from '../../src/runtime/cache.js';
import { acquireKeyLock } from '../../src/runtime/cache-lock.js';
import { execute } from '../../src/runtime/executor.js';
import type { StageLogger } from '../../src/runtime/stage.js';
import { tempDir } from '../helpers.js';
import { chainSpecs, countingRegistry, makePlan, pipelineInfo } from './plan-fixture.js';

const KEY = 'ab'.repeat(32);
const sha = (s: string) => createHash('sha256').update(s).digest('hex');

async function commitEntry(cache: ArtifactCache, key = KEY) {
  const tmp = await cache.makeTempDir(key);
  await fsp.mkdir(join(tmp, 'nested'));
  writeFileSync(join(tmp, 'a.bin'), 'hello');
  writeFileSync(join(tmp, 'nested', 'b.txt'), 'world!');
  return { tmp, manifest: await cache.commit(tmp, { key, stage: 'raw', kind: 'data', version: 1, summary: { rows: 2 } }) };
}

/** A pid that is certainly dead: a child that has already exited. */
function deadPid(): number {
  return Number(spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' }).stdout);
}

test('FTC_CACHE_DIR overrides <pipeline dir>/.ftc/cache', () => {
  const saved = process.env.FTC_CACHE_DIR;
  delete process.env.FTC_CACHE_DIR;
  assert.equal(defaultCacheDir('/p'), '/p/.ftc/cache');
  process.env.FTC_CACHE_DIR = '/elsewhere';
  assert.equal(defaultCacheDir('/p'), '/elsewhere');
  if (saved === undefined) delete process.env.FTC_CACHE_DIR;
  else process.env.FTC_CACHE_DIR = saved;
});

test('commit renames the temp dir into place with a manifest of sizes and sha256 written last', async () => {
  const cache = new ArtifactCache(join(tempDir(), 'cache'));
  const { tmp, manifest } = await commitEntry(cache);
  await assert.rejects(fsp.stat(tmp), { code: 'ENOENT' });
  const onDisk = JSON.parse(readFileSync(join(cache.entryDir(KEY), 'manifest.json'), 'utf8')) as Manifest;
  assert.deepEqual(onDisk, manifest);
  assert.deepEqual(onDisk.files, [
    { path: 'a.bin', size: 5, sha256: sha('hello') },
    { path: 'nested/b.txt', size: 6, sha256: sha('world!') },
  ]);
  assert.deepEqual({ key: onDisk.key, stage: onDisk.stage, kind: onDisk.kind, version: onDisk.version, summary: onDisk.summary }, { key: KEY, stage: 'raw', kind: 'data', version: 1, summary: { rows: 2 } });
  const found = await new ArtifactCache(cache.root).lookup(KEY, 'raw');
  assert.equal(found.status, 'hit');
  assert.deepEqual((await cache.entries()).map((e) => [e.key, e.bytes]), [[KEY, 11 + readFileSync(join(cache.entryDir(KEY), 'manifest.json')).length]]);
});

test('verification: a changed byte, a changed size, an extra file, a missing manifest are each corrupt', async () => {
  const cases: [string, (dir: string) => void, RegExp][] = [
    ['changed byte', (d) => writeFileSync(join(d, 'a.bin'), 'hellp'), /file a.bin does not match its sha256 checksum/],
    ['changed size', (d) => writeFileSync(join(d, 'nested', 'b.txt'), 'world'), /file nested\/b.txt has 5 bytes, the manifest says 6/],
    ['extra file', (d) => writeFileSync(join(d, 'c'), ''), /file c is not in the manifest/],
    ['missing file', (d) => rmSync(join(d, 'a.bin')), /file a.bin is missing/],
    ['no manifest (partial entry)', (d) => rmSync(join(d, 'manifest.json')), /manifest.json is missing/],
    ['truncated manifest', (d) => writeFileSync(join(d, 'manifest.json'), '{"key":'), /manifest.json is not valid JSON/],
  ];
  for (const [label, damage, problem] of cases) {
    const root = join(tempDir(), 'cache');
    await commitEntry(new ArtifactCache(root));
    damage(new ArtifactCache(root).entryDir(KEY));
    const warnings: string[] = [];
    const found = await new ArtifactCache(root, (m) => warnings.push(m)).lookup(KEY, 'raw');
    assert.equal(found.status, 'corrupt', label);
    assert.equal(warnings.length, 1, label);
    assert.match(warnings[0], new RegExp(`^cache entry ${KEY.slice(0, 12)} \\(stage raw\\) is corrupt: `), label);
    assert.match(warnings[0], problem, label);
  }
});

test('checksums are verified on first use in a process, sizes on every lookup', async () => {
  const cache = new ArtifactCache(join(tempDir(), 'cache'), () => undefined);
  await commitEntry(cache);
  const reader = new ArtifactCache(cache.root, () => undefined);
  assert.equal((await reader.lookup(KEY, 'raw')).status, 'hit');
  writeFileSync(join(cache.entryDir(KEY), 'a.bin'), 'hellp');
  // Same process, already verified: only sizes are checked again (documented cost trade-off).
  assert.equal((await reader.lookup(KEY, 'raw')).status, 'hit');
  assert.equal((await new ArtifactCache(cache.root, () => undefined).lookup(KEY, 'raw')).status, 'corrupt');
});

test('discard removes an entry; a missing entry is a plain miss', async () => {
  const cache = new ArtifactCache(join(tempDir(), 'cache'));
  await commitEntry(cache);
  await cache.discard(KEY);
  assert.deepEqual(await cache.check(KEY, true), { status: 'missing' });
  assert.deepEqual(await fsp.readdir(join(cache.root, '.tmp')), []);
});

test('stale temp dirs of dead writers are removed; live ones are kept', async () => {
  const cache = new ArtifactCache(join(tempDir(), 'cache'));
  const tmpRoot = join(cache.root, '.tmp');
  await fsp.mkdir(tmpRoot, { recursive: true });
  const dead = `${KEY}.${deadPid()}.0badf00d`;
  const mine = `${KEY}.${process.pid}.12345678`;
  const liveOther = `${'cd'.repeat(32)}.${process.ppid}.87654321`;
  for (const d of [dead, mine, liveOther]) await fsp.mkdir(join(tmpRoot, d));
  writeFileSync(join(tmpRoot, dead, 'half-written.bin'), 'x');
  assert.equal(await cache.cleanStaleTemp(), 1);
  assert.deepEqual((await fsp.readdir(tmpRoot)).sort(), [mine, liveOther].sort());
});

test('taking a key lock removes that key’s leftover temp dirs (their writer no longer holds the lock)', async () => {
  const cache = new ArtifactCache(join(tempDir(), 'cache'));
  const tmpRoot = join(cache.root, '.tmp');
  await fsp.mkdir(join(tmpRoot, `${KEY}.${process.ppid}.aaaaaaaa`), { recursive: true });
  const held = await cache.lock(KEY);
  assert.deepEqual(await fsp.readdir(tmpRoot), []);
  await held.release();
});

test('lock contention: the second waits for the first; a lock left by a dead pid is broken', async () => {
  const dir = tempDir();
  const file = join(dir, 'k.lock');
  const first = await acquireKeyLock(file);
  const owner = JSON.parse(readFileSync(file, 'utf8'));
  assert.deepEqual([owner.pid, owner.hostname], [process.pid, hostname()]);
  const waits: string[] = [];
  let secondHeld = false;
  const second = acquireKeyLock(file, (h) => waits.push(h)).then((l) => ((secondHeld = true), l));
  await new Promise((r) => setTimeout(r, 300));
  assert.equal(secondHeld, false);
  assert.equal(waits.length, 1);
  assert.match(waits[0], new RegExp(`^pid ${process.pid} on `));
  await first.release();
  await (await second).release();
  assert.equal(secondHeld, true);

  writeFileSync(file, JSON.stringify({ pid: deadPid(), hostname: hostname(), time: new Date().toISOString() }));
  const third = await acquireKeyLock(file);
  assert.equal(JSON.parse(readFileSync(file, 'utf8')).pid, process.pid);
  await third.release();
  await assert.rejects(fsp.stat(file), { code: 'ENOENT' });
});

test('two concurrent runs on one cache build each stage once and both get the results', async () => {
  const dir = tempDir();
  writeFileSync(join(dir, 'a.txt'), 'alpha\nbeta\n');
  writeFileSync(join(dir, 'b.txt'), 'gamma\n');
  const { runs, registry } = countingRegistry();
  const quiet: StageLogger = { info: () => undefined, warn: () => undefined, progress: () => ({ update: () => undefined, done: () => undefined }) };
  const root = join(dir, 'cache');
  const plan = makePlan(dir, chainSpecs());
  const go = () => execute(plan, pipelineInfo(dir), { registry, cache: new ArtifactCache(root), report: () => undefined, logger: () => quiet });
  const [a, b] = await Promise.all([go(), go()]);
  assert.deepEqual([...runs].sort(), ['other', 'raw', 'sft', 'tok']);
  assert.deepEqual(a.stages.map((s) => s.dir), b.stages.map((s) => s.dir));
  assert.equal(readFileSync(join(dir, 'out/adapter/adapter.txt'), 'utf8'), 'ALPHA\nBETA\nlr=0.0002\n');
});
