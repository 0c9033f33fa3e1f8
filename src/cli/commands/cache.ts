import { promises as fsp } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import type { Command } from 'commander';
import { ArtifactCache, defaultCacheDir } from '../../runtime/cache.js';
import { isLockHeldByLiveProcess } from '../../runtime/cache-lock.js';
import { lockPath, readLock } from '../../runtime/lockfile.js';
import { formatBytes } from '../../runtime/write-error.js';

/**
 * `ftc cache ls|du|gc|clear|verify [PIPELINE...]`.
 *
 * Which cache: $FTC_CACHE_DIR when set; otherwise `<dir>/.ftc/cache` for the directory of each
 * pipeline given, or, with none given, of every pipeline file (*.ft, *.ft.yaml) found under the
 * current directory (node_modules, dist and dot-directories skipped).
 *
 * What gc keeps: every entry whose key appears in a lock file (`<pipeline>.lock`) of those
 * pipelines; everything else is deleted. An entry being written (its key lock held) is kept.
 */
const SKIP_DIRS = new Set(['node_modules', 'dist']);

async function findPipelines(root: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (dir: string): Promise<void> => {
    for (const e of await fsp.readdir(dir, { withFileTypes: true }).catch(() => [])) {
      if (e.isDirectory()) {
        if (!e.name.startsWith('.') && !SKIP_DIRS.has(e.name)) await walk(join(dir, e.name));
      } else if (e.isFile() && (e.name.endsWith('.ft') || e.name.endsWith('.ft.yaml'))) out.push(join(dir, e.name));
    }
  };
  await walk(root);
  return out.sort();
}

interface Scope {
  pipelines: string[];
  caches: ArtifactCache[];
}

async function scope(args: string[]): Promise<Scope> {
  const pipelines = args.length ? args.map((a) => resolve(a)) : await findPipelines(process.cwd());
  const roots = new Set<string>();
  if (process.env.FTC_CACHE_DIR) roots.add(resolve(process.env.FTC_CACHE_DIR));
  else if (pipelines.length === 0) roots.add(resolve('.ftc', 'cache'));
  else for (const p of pipelines) roots.add(resolve(defaultCacheDir(dirname(p))));
  return { pipelines, caches: [...roots].sort().map((r) => new ArtifactCache(r)) };
}

/** Keys referenced by the lock files of the pipelines in scope, with the lock that references each. */
async function referencedKeys(pipelines: string[]): Promise<Map<string, string[]>> {
  const refs = new Map<string, string[]>();
  for (const p of pipelines) {
    const lock = await readLock(p);
    if (!lock) continue;
    for (const s of Object.values(lock.stages)) refs.set(s.key, [...(refs.get(s.key) ?? []), relative(process.cwd(), lockPath(p))]);
  }
  return refs;
}

export { formatBytes };

const out = (s: string) => process.stdout.write(s + '\n');
const show = (root: string) => relative(process.cwd(), root) || '.';

async function ls(args: string[]): Promise<void> {
  const { pipelines, caches } = await scope(args);
  const refs = await referencedKeys(pipelines);
  for (const cache of caches) {
    const entries = await cache.entries();
    out(`${show(cache.root)}: ${entries.length} entr${entries.length === 1 ? 'y' : 'ies'}`);
    for (const e of entries) {
      const m = e.manifest;
      const used = refs.get(e.key)?.join(', ') ?? 'unreferenced';
      out(`  ${e.key.slice(0, 12)}  ${(m && e.isEntry ? `${m.stage} (${m.kind})` : '(not a cache entry)').padEnd(24)} ${formatBytes(e.bytes).padStart(10)}  ${m?.created ?? '-'}  ${used}`);
    }
  }
}

async function du(args: string[]): Promise<void> {
  const { caches } = await scope(args);
  for (const cache of caches) {
    const entries = await cache.entries();
    const byKind = new Map<string, number>();
    for (const e of entries) byKind.set(e.manifest?.kind ?? '?', (byKind.get(e.manifest?.kind ?? '?') ?? 0) + e.bytes);
    const total = entries.reduce((a, e) => a + e.bytes, 0);
    out(`${show(cache.root)}: ${formatBytes(total)} in ${entries.length} entr${entries.length === 1 ? 'y' : 'ies'}`);
    for (const [kind, bytes] of [...byKind].sort()) out(`  ${kind.padEnd(12)} ${formatBytes(bytes).padStart(10)}`);
  }
}

/** gc and clear delete only what ftc wrote; say what they left, so a user sees why it is still there. */
function leftAlone(entries: { key: string; isEntry: boolean }[]): string {
  const others = entries.filter((e) => !e.isEntry).map((e) => e.key);
  return others.length ? `; left ${others.length} director${others.length === 1 ? 'y' : 'ies'} that ${others.length === 1 ? 'is' : 'are'} not a cache entry (no valid manifest, or a symlink): ${others.join(', ')}` : '';
}

async function gc(args: string[], dryRun: boolean): Promise<void> {
  const { pipelines, caches } = await scope(args);
  const refs = await referencedKeys(pipelines);
  for (const cache of caches) {
    let dropped = 0;
    let freed = 0;
    const entries = await cache.entries();
    for (const e of entries) {
      if (!e.isEntry || refs.has(e.key) || (await isLockHeldByLiveProcess(join(cache.locksDir, `${e.key}.lock`)))) continue;
      dropped++;
      freed += e.bytes;
      if (!dryRun) await cache.discard(e.key);
    }
    const temps = dryRun ? 0 : await cache.cleanStaleTemp();
    out(`${show(cache.root)}: ${dryRun ? 'would drop' : 'dropped'} ${dropped} unreferenced entr${dropped === 1 ? 'y' : 'ies'} (${formatBytes(freed)})${temps ? `, ${temps} stale temp dirs` : ''}${leftAlone(entries)}`);
  }
}

async function clear(args: string[]): Promise<void> {
  const { caches } = await scope(args);
  for (const cache of caches) {
    const entries = await cache.entries();
    const ours = entries.filter((e) => e.isEntry);
    for (const e of ours) await cache.discard(e.key);
    await cache.cleanStaleTemp();
    out(`${show(cache.root)}: removed ${ours.length} entr${ours.length === 1 ? 'y' : 'ies'}${leftAlone(entries)}`);
  }
}

async function verify(args: string[]): Promise<void> {
  const { caches } = await scope(args);
  let bad = 0;
  for (const cache of caches) {
    const entries = await cache.entries();
    for (const e of entries) {
      if (!e.isEntry) continue;
      const found = await cache.check(e.key, true);
      if (found.status === 'corrupt') {
        bad++;
        out(`${show(cache.root)}: ${e.key.slice(0, 12)} (${e.manifest?.stage ?? '?'}): corrupt: ${found.problem}`);
      }
    }
    const checked = entries.filter((e) => e.isEntry).length;
    out(`${show(cache.root)}: checked ${checked} entr${checked === 1 ? 'y' : 'ies'}${leftAlone(entries)}`);
  }
  if (bad) {
    out(`${bad} corrupt entr${bad === 1 ? 'y' : 'ies'}; the next ftc run rebuilds them (or run ftc cache gc/clear)`);
    process.exitCode = 1;
  }
}

export function register(program: Command): void {
  const cache = program
    .command('cache')
    .description('Inspect and clean the artifact cache')
    .addHelpText(
      'after',
      `
Which cache: $FTC_CACHE_DIR when set; otherwise <dir>/.ftc/cache beside each PIPELINE given,
or, when none is given, beside every *.ft / *.ft.yaml file found under the current directory
(node_modules, dist and hidden directories are skipped).

gc keeps exactly the entries whose key is recorded in a lock file (<pipeline>.lock) of those
pipelines, and deletes the rest. With a shared $FTC_CACHE_DIR, run gc where every pipeline that
uses it is found (or name them all), or their entries will be dropped. Entries are rebuilt when
needed, so gc and clear never lose anything but time.`,
    );
  const pipelinesArg = (c: Command) => c.argument('[pipelines...]', 'pipeline files whose cache (and lock files) to use');
  pipelinesArg(cache.command('ls').description('list entries: key, stage, size, created, which lock references it')).action(ls);
  pipelinesArg(cache.command('du').description('disk usage, in total and by stage kind')).action(du);
  pipelinesArg(cache.command('gc').description('delete entries that no lock file references').option('--dry-run', 'only say what would be deleted')).action(
    (p: string[], o: { dryRun?: boolean }) => gc(p, o.dryRun === true),
  );
  pipelinesArg(cache.command('clear').description('delete every entry')).action(clear);
  pipelinesArg(cache.command('verify').description('check every entry against its manifest checksums (exit 1 when one is corrupt)')).action(verify);
}
