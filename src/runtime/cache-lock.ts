import { randomBytes } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import { hostname } from 'node:os';

/**
 * A per-key lock: a file created with O_EXCL holding `{pid, hostname, time}`. It keeps two
 * `ftc run` processes from building the same cache entry; the second waits, then finds the
 * first's entry. A lock whose pid is dead on this host is stale (the run was killed) and is
 * broken. A lock from another host is never broken automatically: we cannot see its pid.
 */
export interface KeyLock {
  release(): Promise<void>;
}

interface LockOwner {
  pid: number;
  hostname: string;
  time: string;
}

const POLL_MS = 100;
/** A lock file that is still empty or unparsable after this long was left by a writer killed mid-write. */
const UNREADABLE_GRACE_MS = 5_000;

export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    // EPERM: the process exists but belongs to someone else.
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function readOwner(file: string): Promise<{ owner?: LockOwner; ageMs: number; raw: string } | undefined> {
  try {
    const [raw, st] = await Promise.all([fsp.readFile(file, 'utf8'), fsp.stat(file)]);
    let owner: LockOwner | undefined;
    try {
      owner = JSON.parse(raw) as LockOwner;
    } catch {
      owner = undefined;
    }
    return { owner, ageMs: Date.now() - st.mtimeMs, raw };
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
}

function isStale(found: { owner?: LockOwner; ageMs: number }): boolean {
  if (!found.owner) return found.ageMs > UNREADABLE_GRACE_MS;
  return found.owner.hostname === hostname() && found.owner.pid !== process.pid && !pidAlive(found.owner.pid);
}

export async function isLockHeldByLiveProcess(file: string): Promise<boolean> {
  const found = await readOwner(file);
  return found !== undefined && !isStale(found);
}

/**
 * Breaks a stale lock without ever removing a live one: the file is renamed to a unique name
 * (only one breaker wins the rename), and if what was renamed is not the stale content we read,
 * another process had re-taken the lock in between, so it is put back with link() (which
 * fails rather than overwrite a newer lock).
 */
async function breakStale(file: string, staleRaw: string): Promise<void> {
  const moved = `${file}.stale.${process.pid}.${randomBytes(4).toString('hex')}`;
  try {
    await fsp.rename(file, moved);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw e;
  }
  const raw = await fsp.readFile(moved, 'utf8').catch(() => '');
  if (raw !== staleRaw) await fsp.link(moved, file).catch(() => undefined);
  await fsp.rm(moved, { force: true });
}

export async function acquireKeyLock(file: string, onWait?: (holder: string) => void): Promise<KeyLock> {
  const me: LockOwner = { pid: process.pid, hostname: hostname(), time: new Date().toISOString() };
  let announced = false;
  for (;;) {
    try {
      const handle = await fsp.open(file, 'wx');
      try {
        await handle.writeFile(JSON.stringify(me) + '\n');
      } finally {
        await handle.close();
      }
      return {
        release: async () => {
          // Only remove the lock if it is still ours (it may have been broken as stale by mistake).
          const now = await readOwner(file);
          if (now?.owner?.pid === me.pid && now.owner.hostname === me.hostname) await fsp.rm(file, { force: true });
        },
      };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
    const found = await readOwner(file);
    if (!found) continue;
    if (isStale(found)) {
      await breakStale(file, found.raw);
      continue;
    }
    if (!announced && onWait) {
      announced = true;
      onWait(found.owner ? `pid ${found.owner.pid} on ${found.owner.hostname} since ${found.owner.time}` : 'another process');
    }
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
}
