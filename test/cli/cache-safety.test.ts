import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { runCli, snapshotTree, tempDir } from '../helpers.js';

/**
 * `ftc cache clear|gc` on a cache directory that also holds things ftc did not write (a shared
 * FTC_CACHE_DIR pointed at the wrong place, a user's hex-named folder): only ftc's entries and its
 * dead writers' temporaries go; everything else is byte-identical afterwards.
 */
const HEX = 'ab'.repeat(32);
const HEX2 = 'cd'.repeat(32);
const HEX3 = 'ef'.repeat(32);

function setup() {
  const dir = tempDir('ftc-cache-safety-');
  writeFileSync(join(dir, 'd.json'), JSON.stringify([{ instruction: 'a', input: '', output: 'b' }]));
  writeFileSync(join(dir, 'p.ft'), 'pipeline small { seed = 3 }\ndata raw { source = "d.json" }\n');
  const cache = join(dir, 'cache');
  const env = { FTC_CACHE_DIR: cache };
  const ftc = (...args: string[]) => runCli(args, { cwd: dir, env });
  assert.equal(ftc('run', 'p.ft').status, 0);
  // The user's things inside the cache directory.
  const user = join(dir, 'user');
  mkdirSync(join(user, 'photos'), { recursive: true });
  writeFileSync(join(user, 'photos', 'cat.jpg'), Buffer.from([0xff, 0xd8, 1, 2, 3]));
  mkdirSync(join(cache, HEX));
  writeFileSync(join(cache, HEX, 'thesis.tex'), 'years of work');
  // A manifest that names its key but does not list every file: not purely ftc's either.
  mkdirSync(join(cache, HEX2));
  writeFileSync(join(cache, HEX2, 'manifest.json'), JSON.stringify({ key: HEX2, files: [] }));
  writeFileSync(join(cache, HEX2, 'notes.txt'), 'mine');
  symlinkSync(join(user, 'photos'), join(cache, HEX3));
  writeFileSync(join(cache, '.tmp', 'notes'), 'mine too');
  mkdirSync(join(cache, '.tmp', 'not-a-temp.1.x'));
  writeFileSync(join(cache, '.tmp', 'not-a-temp.1.x', 'f'), 'keep');
  symlinkSync(join(user, 'photos'), join(cache, '.tmp', `${HEX}.1.abcdef01`));
  const userPaths = (tree: Map<string, string>) => new Map([...tree].filter(([p]) => !/^cache\/([0-9a-f]{64}$|[0-9a-f]{64}\/|\.locks)/.test(p) || p.startsWith(`cache/${HEX}`) || p.startsWith(`cache/${HEX2}`) || p.startsWith(`cache/${HEX3}`)));
  return { dir, cache, ftc, userPaths };
}

const ourEntries = (cache: string) => readdirSync(cache).filter((n) => /^[0-9a-f]{64}$/.test(n) && ![HEX, HEX2, HEX3].includes(n));

test('cache clear deletes only valid entries and dead temporaries, never a user directory or through a symlink', () => {
  const { dir, cache, ftc, userPaths } = setup();
  // A temporary left by a writer that is gone: ftc's, so it goes.
  const deadPid = spawnSync(process.execPath, ['-e', '']).pid!;
  mkdirSync(join(cache, '.tmp', `${'12'.repeat(32)}.${deadPid}.0123abcd`));
  assert.equal(ourEntries(cache).length, 1);
  const before = userPaths(snapshotTree(dir));
  before.delete(`cache/.tmp/${'12'.repeat(32)}.${deadPid}.0123abcd`);
  const r = ftc('cache', 'clear');
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, new RegExp(`cache: removed 1 entry; left 3 directories that are not a cache entry \\(no valid manifest, or a symlink\\): ${HEX}, ${HEX2}, ${HEX3}`));
  assert.deepEqual(ourEntries(cache), []);
  assert.deepEqual(userPaths(snapshotTree(dir)), before);
});

test('cache gc and verify leave a user directory alone', () => {
  const { dir, cache, ftc, userPaths } = setup();
  writeFileSync(join(dir, 'p.ft'), 'pipeline small { seed = 4 }\ndata raw { source = "d.json" }\n');
  assert.equal(ftc('run', 'p.ft').status, 0);
  assert.equal(ourEntries(cache).length, 1, 'same data stage key: seed does not change it');
  const before = userPaths(snapshotTree(dir));
  const v = ftc('cache', 'verify');
  assert.equal(v.status, 0, v.stdout);
  assert.match(v.stdout, /checked 1 entry; left 3 directories/);
  const gc = ftc('cache', 'gc');
  assert.equal(gc.status, 0, gc.stderr);
  assert.match(gc.stdout, /dropped 0 unreferenced entries \(0 B\); left 3 directories/);
  assert.deepEqual(userPaths(snapshotTree(dir)), before);
  assert.equal(ourEntries(cache).length, 1);
});

test('a .tmp that is a symlink is never cleaned through', () => {
  const dir = tempDir('ftc-cache-safety-');
  const cache = join(dir, 'cache');
  const elsewhere = join(dir, 'elsewhere');
  mkdirSync(join(elsewhere, `${HEX}.1.abcdef01`), { recursive: true });
  writeFileSync(join(elsewhere, `${HEX}.1.abcdef01`, 'f'), 'keep');
  mkdirSync(cache);
  symlinkSync(elsewhere, join(cache, '.tmp'));
  const before = snapshotTree(elsewhere);
  const r = runCli(['cache', 'clear'], { cwd: dir, env: { FTC_CACHE_DIR: cache } });
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(snapshotTree(elsewhere), before);
});
