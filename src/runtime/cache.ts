import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, promises as fsp } from 'node:fs';
import { join } from 'node:path';
import type { StageSummary } from './stage.js';
import { describeWriteError } from './write-error.js';
import { acquireKeyLock, isLockHeldByLiveProcess, pidAlive, type KeyLock } from './cache-lock.js';

/**
 * The content-addressed artifact cache: `<cache>/<key>/` holds one stage's files plus
 * `manifest.json` (written last) listing every file's size and sha256.
 *
 * Layout:
 *   <cache>/<key>/             a committed entry (renamed into place, never edited)
 *   <cache>/.tmp/<key>.<pid>.<rand>   a stage being written; stale ones are removed
 *   <cache>/.locks/<key>.lock  held while one process builds <key>
 *
 * Verification: sizes are checked on every lookup; full sha256 checksums are checked the first
 * time an entry is used in a process (then remembered), so a changed byte is always caught
 * before a run reads it, while a second lookup in the same process costs only a stat per file.
 */
export interface ManifestFile {
  path: string;
  size: number;
  sha256: string;
}

export interface Manifest {
  key: string;
  stage: string;
  kind: string;
  version: number;
  created: string;
  summary: StageSummary;
  files: ManifestFile[];
}

export type Lookup =
  | { status: 'hit'; dir: string; manifest: Manifest }
  | { status: 'missing' }
  | { status: 'corrupt'; problem: string };

export const MANIFEST = 'manifest.json';
const KEY_PATTERN = /^[0-9a-f]{16,128}$/;
/** `<key>.<pid>.<rand>` (a stage being written) or `<key>.<pid>.<rand>.old` (an entry moved aside): nothing else in .tmp is ftc's. */
const TEMP_PATTERN = /^([0-9a-f]{16,128})\.(\d+)\.[0-9a-f]{8}(\.old)?$/;

/** A real directory, not a symlink to one: ftc never deletes through a link. */
async function isRealDir(path: string): Promise<boolean> {
  const st = await fsp.lstat(path).catch(() => undefined);
  return st !== undefined && st.isDirectory() && !st.isSymbolicLink();
}

export { defaultCacheDir } from '../cache-location.js';

export async function sha256File(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** Every regular file under dir, as sorted '/'-separated relative paths. */
export async function listFiles(dir: string, prefix = ''): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await fsp.readdir(join(dir, prefix), { withFileTypes: true })) {
    const rel = prefix ? `${prefix}/${entry.name}` : entry.name;
    if (entry.isDirectory()) out.push(...(await listFiles(dir, rel)));
    else if (entry.isFile()) out.push(rel);
  }
  return out.sort();
}

async function fsyncPath(path: string): Promise<void> {
  const handle = await fsp.open(path, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** Every entry under dir (not following symlinks), with what it is. */
async function listAll(dir: string, prefix = ''): Promise<{ path: string; kind: 'file' | 'dir' | 'other' }[]> {
  const out: { path: string; kind: 'file' | 'dir' | 'other' }[] = [];
  for (const entry of await fsp.readdir(join(dir, prefix), { withFileTypes: true })) {
    const rel = prefix ? `${prefix}/${entry.name}` : entry.name;
    if (entry.isDirectory()) out.push({ path: rel, kind: 'dir' }, ...(await listAll(dir, rel)));
    else out.push({ path: rel, kind: entry.isFile() ? 'file' : 'other' });
  }
  return out;
}

export class ArtifactCache {
  /** Keys whose checksums this process has already verified. */
  private readonly verified = new Set<string>();

  constructor(
    readonly root: string,
    private readonly warn: (message: string) => void = (m) => process.stderr.write(`warning: ${m}\n`),
  ) {}

  entryDir(key: string): string {
    return join(this.root, key);
  }

  private get tmpRoot(): string {
    return join(this.root, '.tmp');
  }

  get locksDir(): string {
    return join(this.root, '.locks');
  }

  /** Checks an entry without changing anything: sizes always, checksums when `full`. */
  async check(key: string, full: boolean): Promise<Lookup> {
    const dir = this.entryDir(key);
    let raw: string;
    try {
      raw = await fsp.readFile(join(dir, MANIFEST), 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') return { status: 'corrupt', problem: `manifest unreadable: ${(e as Error).message}` };
      // A directory without a manifest is a partial write that escaped the rename protocol.
      const exists = await fsp.stat(dir).then(() => true, () => false);
      return exists ? { status: 'corrupt', problem: 'manifest.json is missing' } : { status: 'missing' };
    }
    let manifest: Manifest;
    try {
      manifest = JSON.parse(raw) as Manifest;
    } catch {
      return { status: 'corrupt', problem: 'manifest.json is not valid JSON' };
    }
    if (manifest.key !== key || !Array.isArray(manifest.files)) return { status: 'corrupt', problem: 'manifest.json does not describe this entry' };
    const onDisk = (await listFiles(dir)).filter((f) => f !== MANIFEST);
    const listed = new Set(manifest.files.map((f) => f.path));
    const extra = onDisk.find((f) => !listed.has(f));
    if (extra) return { status: 'corrupt', problem: `file ${extra} is not in the manifest` };
    for (const f of manifest.files) {
      const st = await fsp.stat(join(dir, f.path)).catch(() => undefined);
      if (!st) return { status: 'corrupt', problem: `file ${f.path} is missing` };
      if (st.size !== f.size) return { status: 'corrupt', problem: `file ${f.path} has ${st.size} bytes, the manifest says ${f.size}` };
    }
    if (full && !this.verified.has(key)) {
      for (const f of manifest.files) {
        if ((await sha256File(join(dir, f.path))) !== f.sha256) return { status: 'corrupt', problem: `file ${f.path} does not match its sha256 checksum` };
      }
      this.verified.add(key);
    }
    return { status: 'hit', dir, manifest };
  }

  /**
   * The entry for `key`, fully verified on first use in this process. A corrupt entry is
   * reported with a warning naming it and returned as such; the caller rebuilds it under the
   * key lock (see `discard`) so that two processes never race on moving it aside.
   */
  async lookup(key: string, stage: string): Promise<Lookup> {
    const found = await this.check(key, true);
    if (found.status === 'corrupt') this.warn(`cache entry ${key.slice(0, 12)} (stage ${stage}) is corrupt: ${found.problem}; it will be rebuilt`);
    return found;
  }

  /** A fresh, empty temp directory on the cache's filesystem, for writing `key`. */
  async makeTempDir(key: string): Promise<string> {
    await fsp.mkdir(this.tmpRoot, { recursive: true });
    const dir = join(this.tmpRoot, `${key}.${process.pid}.${randomBytes(4).toString('hex')}`);
    await fsp.mkdir(dir);
    return dir;
  }

  /**
   * Seals a temp dir as the entry for `key`: checksums every file, writes the manifest last,
   * fsyncs, then renames into place. An entry already there is replaced (`--force`): the old
   * one is renamed aside first, so a reader sees either the old or the new entry, never a mix.
   */
  async commit(tmpDir: string, info: Omit<Manifest, 'files' | 'created'>): Promise<Manifest> {
    let bytes = 0;
    try {
      const files: ManifestFile[] = [];
      for (const path of await listFiles(tmpDir)) {
        if (path === MANIFEST) throw new Error(`stage ${info.stage} wrote a file named ${MANIFEST}, which the cache reserves`);
        const full = join(tmpDir, path);
        await fsyncPath(full);
        const size = (await fsp.stat(full)).size;
        bytes += size;
        files.push({ path, size, sha256: await sha256File(full) });
      }
      const manifest: Manifest = { ...info, created: new Date().toISOString(), files };
      const handle = await fsp.open(join(tmpDir, MANIFEST), 'w');
      try {
        await handle.writeFile(JSON.stringify(manifest, null, 2) + '\n');
        await handle.sync();
      } finally {
        await handle.close();
      }
      await fsyncPath(tmpDir);
      const target = this.entryDir(info.key);
      const old = await this.moveAside(info.key);
      await fsp.rename(tmpDir, target);
      await fsyncPath(this.root);
      if (old) await fsp.rm(old, { recursive: true, force: true });
      this.verified.add(info.key);
      return manifest;
    } catch (e) {
      // A full disk (or any failure) leaves no temp dir behind and reads as what it is.
      await fsp.rm(tmpDir, { recursive: true, force: true });
      throw describeWriteError(e, `the cache entry of stage '${info.stage}' in ${this.root}`, bytes || undefined);
    }
  }

  /** Moves an existing entry out of the way (into .tmp, then deleted); returns where it went. */
  private async moveAside(key: string): Promise<string | undefined> {
    await fsp.mkdir(this.tmpRoot, { recursive: true });
    const aside = join(this.tmpRoot, `${key}.${process.pid}.${randomBytes(4).toString('hex')}.old`);
    try {
      await fsp.rename(this.entryDir(key), aside);
      this.verified.delete(key);
      return aside;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw e;
    }
  }

  /** Removes an entry (a corrupt one before rebuilding, or `ftc cache gc`). Call under the key lock. */
  async discard(key: string): Promise<void> {
    const aside = await this.moveAside(key);
    if (aside) await fsp.rm(aside, { recursive: true, force: true });
  }

  async lock(key: string, onWait?: (holder: string) => void): Promise<KeyLock> {
    await fsp.mkdir(this.locksDir, { recursive: true });
    const held = await acquireKeyLock(join(this.locksDir, `${key}.lock`), onWait);
    await this.cleanTempFor(key);
    return held;
  }

  /** ftc's temporaries in .tmp, by name; never anything in a .tmp that is a symlink, never a symlink inside it. */
  private async temporaries(): Promise<{ name: string; key: string; pid: number }[]> {
    if (!(await isRealDir(this.tmpRoot))) return [];
    const out: { name: string; key: string; pid: number }[] = [];
    for (const name of await fsp.readdir(this.tmpRoot).catch(() => [] as string[])) {
      const m = TEMP_PATTERN.exec(name);
      if (m && (await isRealDir(join(this.tmpRoot, name)))) out.push({ name, key: m[1]!, pid: Number(m[2]) });
    }
    return out;
  }

  /** Holding the key lock, every temp dir of that key is left over from a killed run. */
  private async cleanTempFor(key: string): Promise<void> {
    for (const t of await this.temporaries()) {
      if (t.key === key && t.pid !== process.pid) await fsp.rm(join(this.tmpRoot, t.name), { recursive: true, force: true });
    }
  }

  /**
   * Removes temp dirs whose writer is gone: its pid is dead on this host and nobody holds
   * the key's lock. Returns how many were removed.
   */
  async cleanStaleTemp(): Promise<number> {
    let removed = 0;
    for (const t of await this.temporaries()) {
      if (t.pid === process.pid || pidAlive(t.pid)) continue;
      if (await isLockHeldByLiveProcess(join(this.locksDir, `${t.key}.lock`))) continue;
      await fsp.rm(join(this.tmpRoot, t.name), { recursive: true, force: true });
      removed++;
    }
    return removed;
  }

  /**
   * Whether `<cache>/<key>` is an entry ftc wrote, which gc/clear may delete: a real directory (not
   * a symlink) whose manifest.json names this key and lists every file in it. A user's directory that
   * merely has a hex name is not one. (Sizes and checksums may be off: a corrupt entry is still ftc's.)
   */
  async isEntry(key: string): Promise<boolean> {
    const dir = this.entryDir(key);
    if (!KEY_PATTERN.test(key) || !(await isRealDir(dir))) return false;
    let manifest: Manifest;
    try {
      manifest = JSON.parse(await fsp.readFile(join(dir, MANIFEST), 'utf8')) as Manifest;
    } catch {
      return false;
    }
    if (manifest?.key !== key || !Array.isArray(manifest.files)) return false;
    const listed = new Set(manifest.files.map((f) => f.path));
    const onDisk = await listAll(dir);
    return onDisk.every((f) => f.kind === 'file' ? f.path === MANIFEST || listed.has(f.path) : f.kind === 'dir');
  }

  /** Committed entries (directories named like a key), with their manifests when readable. */
  async entries(): Promise<{ key: string; manifest?: Manifest; bytes: number; isEntry: boolean }[]> {
    const names = await fsp.readdir(this.root).catch(() => [] as string[]);
    const out: { key: string; manifest?: Manifest; bytes: number; isEntry: boolean }[] = [];
    for (const key of names.filter((n) => KEY_PATTERN.test(n)).sort()) {
      const dir = this.entryDir(key);
      let manifest: Manifest | undefined;
      try {
        manifest = JSON.parse(await fsp.readFile(join(dir, MANIFEST), 'utf8')) as Manifest;
      } catch {
        manifest = undefined;
      }
      let bytes = 0;
      for (const f of await listFiles(dir).catch(() => [] as string[])) bytes += (await fsp.stat(join(dir, f))).size;
      out.push({ key, manifest, bytes, isEntry: await this.isEntry(key) });
    }
    return out;
  }
}
