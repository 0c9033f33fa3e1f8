import { existsSync, mkdirSync, readdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { basename, dirname, extname, join, resolve } from 'node:path';
import { FtcError } from '../../errors.js';
import { exportModel, type ExportFormat, GGUF_FILE } from './export-model.js';
import type { GgufDtype } from './gguf.js';

/**
 * `ftc export` outside a pipeline: everything is written to a temporary sibling of `out` and renamed
 * into place, so an interrupted export leaves the old output or the new one, never a mix. A gguf export
 * to a path ending in .gguf is that single file; otherwise `out` is a directory.
 */
export function exportToPath(o: { model: string; adapter: string; format: ExportFormat; dtype: GgufDtype; out: string; force?: boolean }):
  { path: string; merged: number; warnings: string[] } {
  const target = resolve(o.out);
  const single = o.format === 'gguf' && extname(target).toLowerCase() === '.gguf';
  if (existsSync(target)) {
    const emptyDir = statSync(target).isDirectory() && readdirSync(target).length === 0;
    if (!emptyDir && !o.force) {
      throw new FtcError('E_EXPORT_OUT_EXISTS', `${o.out} already exists`, { file: o.out }, 'pass --force to replace it, or choose another --out');
    }
  }
  mkdirSync(dirname(target), { recursive: true });
  const tmp = join(dirname(target), `.${basename(target)}.tmp-${process.pid}`);
  rmSync(tmp, { recursive: true, force: true });
  try {
    const r = exportModel({ modelDir: resolve(o.model), adapterDir: resolve(o.adapter), format: o.format, dtype: o.dtype, outDir: tmp });
    rmSync(target, { recursive: true, force: true });
    renameSync(single ? join(tmp, GGUF_FILE) : tmp, target);
    return { path: o.out, merged: r.merged, warnings: r.warnings };
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}
