import { mkdirSync, readdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { basename, dirname, extname, join, resolve } from 'node:path';
import { FtcError } from '../../errors.js';
import { assertReplaceable, sha256FileSync, writeMark, type MarkedFile } from '../output-mark.js';
import { describeWriteError } from '../write-error.js';
import { exportModel, type ExportFormat, GGUF_FILE } from './export-model.js';
import type { GgufDtype } from './gguf.js';

/**
 * `ftc export` outside a pipeline: everything is written to a temporary sibling of `out` and renamed
 * into place, so an interrupted export leaves the old output or the new one, never a mix. A gguf export
 * to a path ending in .gguf is that single file; otherwise `out` is a directory. Like a pipeline's
 * outputs it is marked (output-mark.ts): `--force` replaces only an output ftc wrote, unchanged.
 */
export function exportToPath(o: { model: string; adapter?: string; format: ExportFormat; dtype: GgufDtype; out: string; force?: boolean }):
  { path: string; merged: number; warnings: string[] } {
  const target = resolve(o.out);
  const single = o.format === 'gguf' && extname(target).toLowerCase() === '.gguf';
  const existing = assertReplaceable(target, single, o.out, '--out');
  if (existing.state === 'ftc' && !o.force) {
    throw new FtcError('E_EXPORT_OUT_EXISTS', `${o.out} already exists`, { file: o.out }, 'pass --force to replace it, or choose another --out');
  }
  const tmp = join(dirname(target), `.${basename(target)}.tmp-${process.pid}`);
  try {
    mkdirSync(dirname(target), { recursive: true });
    rmSync(tmp, { recursive: true, force: true });
    const r = exportModel({ modelDir: resolve(o.model), adapterDir: o.adapter === undefined ? undefined : resolve(o.adapter), format: o.format, dtype: o.dtype, outDir: tmp });
    const written = single ? join(tmp, GGUF_FILE) : tmp;
    const files: MarkedFile[] = single
      ? [{ path: basename(target), size: statSync(written).size, sha256: sha256FileSync(written) }]
      : readdirSync(tmp).sort().map((f) => ({ path: f, size: statSync(join(tmp, f)).size, sha256: sha256FileSync(join(tmp, f)) }));
    if (!single) writeMark(tmp, false, {}, files);
    if (!single && existing.state !== 'absent') rmSync(target, { recursive: true, force: true });
    renameSync(written, target);
    if (single) writeMark(target, true, {}, files);
    return { path: o.out, merged: r.merged, warnings: r.warnings };
  } catch (e) {
    throw describeWriteError(e, o.out);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}
