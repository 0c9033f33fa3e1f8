import { FtcError, isFtcError } from '../errors.js';

/** Machine limits that stop a write, which the user fixes on their machine rather than in ftc. */
const LIMITS: Record<string, { says: string; hint: string }> = {
  ENOSPC: { says: 'no space is left on the device', hint: 'free disk space (or point FTC_CACHE_DIR / the output at a larger disk) and run again' },
  EDQUOT: { says: 'the disk quota is exhausted', hint: 'free space within your quota and run again' },
  EROFS: { says: 'the file system is read-only', hint: 'choose a writable location' },
  EACCES: { says: 'permission is denied', hint: 'choose a location you can write to, or fix its permissions' },
  EPERM: { says: 'the operation is not permitted', hint: 'choose a location you can write to, or fix its permissions' },
};

/**
 * Turns a failed write into E_WRITE_FAILED naming what was being written (and how much, when
 * known), so a full disk is a plain error rather than an internal one. Anything else is returned as is.
 */
export function describeWriteError(e: unknown, what: string, bytes?: number): unknown {
  if (isFtcError(e)) return e;
  const code = (e as NodeJS.ErrnoException | undefined)?.code;
  const limit = code ? LIMITS[code] : undefined;
  if (!limit) return e;
  const size = bytes === undefined ? '' : ` (${formatBytes(bytes)} to write)`;
  const path = (e as NodeJS.ErrnoException).path;
  return new FtcError('E_WRITE_FAILED', `could not write ${what}${size}: ${limit.says} (${code}${path ? ` at ${path}` : ''}); nothing partial was left behind`,
    path ? { file: path } : undefined, limit.hint);
}

/** 1536 → "1.5 KiB". */
export function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  let v = n;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return i === 0 ? `${n} B` : `${v.toFixed(1)} ${units[i]}`;
}
