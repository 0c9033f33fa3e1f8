import { closeSync, openSync, renameSync, rmSync } from 'node:fs';
import { describeWriteError } from './write-error.js';

/**
 * Writes `path` through `write(fd)` into a temporary sibling that is renamed into place only when
 * every byte is written: a crash or an error never leaves a half-written file under the real name,
 * and the temporary file is removed on error (a full disk is E_WRITE_FAILED naming `path`).
 */
export function writeFileAtomic(path: string, write: (fd: number) => void): void {
  const tmp = `${path}.tmp-${process.pid}-${Date.now()}`;
  let fd: number;
  try {
    fd = openSync(tmp, 'w');
  } catch (e) {
    throw describeWriteError(e, path);
  }
  try {
    write(fd);
    closeSync(fd);
    renameSync(tmp, path);
  } catch (e) {
    try { closeSync(fd); } catch { /* already closed */ }
    rmSync(tmp, { force: true });
    throw describeWriteError(e, path);
  }
}
