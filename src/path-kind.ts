import { statSync } from 'node:fs';

/**
 * What a path the pipeline names is, in words a user can act on. A device (/dev/zero), FIFO or
 * socket is neither a file nor a directory, and a symlink loop or a denied permission is not a
 * missing file: `ftc check` and the data reader both say which it is.
 */
export type PathKind = 'file' | 'dir' | 'missing' | 'device' | 'fifo' | 'socket' | 'loop' | 'denied' | 'nul' | 'unreadable';

export function pathKind(path: string): PathKind {
  if (path.includes('\0')) return 'nul';
  try {
    const st = statSync(path);
    if (st.isFile()) return 'file';
    if (st.isDirectory()) return 'dir';
    if (st.isFIFO()) return 'fifo';
    if (st.isSocket()) return 'socket';
    return 'device';
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return 'missing';
    if (code === 'ELOOP') return 'loop';
    if (code === 'EACCES' || code === 'EPERM') return 'denied';
    return 'unreadable';
  }
}

/** "is a device (like /dev/zero), not a file", for the kinds that are neither file, directory nor missing. */
export const PATH_KIND_TEXT: Record<Exclude<PathKind, 'file' | 'dir' | 'missing'>, string> = {
  device: 'is a device (like /dev/zero or /dev/urandom), not a regular file',
  fifo: 'is a named pipe (FIFO), not a regular file',
  socket: 'is a socket, not a regular file',
  loop: 'is a symbolic link that leads in a loop (or through too many links)',
  denied: 'cannot be read: permission denied',
  nul: 'contains a NUL character, which no file name can hold',
  unreadable: 'cannot be read',
};
