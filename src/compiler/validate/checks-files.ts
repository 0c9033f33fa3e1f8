import { existsSync } from 'node:fs';
import { dirname, isAbsolute, join, relative, sep } from 'node:path';
import type { StageNode } from '../ast.js';
import { safeStat, type ValidationContext } from './context.js';
import { PATH_KIND_TEXT, pathKind } from '../../path-kind.js';

const label = (s: StageNode): string => `${s.kind} '${s.name}'`;

/**
 * E0301-E0303 / W0301: every `x-path` names an existing file or directory. A relative path is relative
 * to the pipeline file; an absolute one is used as is (by check, plan and run alike).
 */
export function paths(stage: StageNode, ctx: ValidationContext): void {
  if (!ctx.checkFiles) return;
  for (const e of stage.entries) {
    const want = ctx.keySchema(stage, e.key)?.['x-path'];
    if (!want || e.value?.type !== 'string') continue;
    const written = e.value.value;
    const abs = ctx.resolvePath(written);
    if (isAbsolute(written) && !ctx.opts.overrideRanges?.has(e.value.range)) absoluteInsideProject(stage, e.key, abs, e.value.range, ctx);
    const kind = pathKind(abs);
    if (kind === 'missing') ctx.error('E0301', e.value.range, `${label(stage)}: ${e.key} "${written}" does not exist (looked for ${abs}); relative paths are relative to the pipeline file's directory.`);
    else if (kind !== 'file' && kind !== 'dir') ctx.error('E0352', e.value.range, `${label(stage)}: ${e.key} "${written}" ${PATH_KIND_TEXT[kind]}; a ${want === 'dir' ? 'directory' : 'file'} is expected.`);
    else if (want === 'dir' && kind !== 'dir') ctx.error('E0302', e.value.range, `${label(stage)}: ${e.key} "${written}" is a file, but a directory is expected.`);
    else if (want === 'file' && kind !== 'file') ctx.error('E0303', e.value.range, `${label(stage)}: ${e.key} "${written}" is a directory, but a file is expected.`);
  }
}

/**
 * W0301 only where an absolute path costs portability for nothing: it points inside the pipeline's own
 * checkout (its git work tree, else its directory), so another clone would look in this one's place.
 * A path outside (a shared model store, /data on a cluster) has no relative spelling that travels better,
 * and a `--set` override is not checked in: neither is warned.
 */
function absoluteInsideProject(stage: StageNode, key: string, abs: string, range: Parameters<ValidationContext['warning']>[1], ctx: ValidationContext): void {
  const root = projectRoot(ctx.opts.dir);
  const rel = relative(root, abs);
  if (rel === '' || rel.startsWith('..') || isAbsolute(rel)) return;
  const fromPipeline = relative(ctx.opts.dir, abs).split(sep).join('/') || '.';
  ctx.warning('W0301', range, `${label(stage)}: ${key} is an absolute path inside this checkout (${root}), so a clone elsewhere would not find it; write it relative to the pipeline file: "${fromPipeline}".`);
}

/** The git work tree holding dir (the nearest ancestor with .git), or dir itself outside git. */
function projectRoot(dir: string): string {
  for (let d = dir; ; d = dirname(d)) {
    if (existsSync(join(d, '.git'))) return d;
    if (dirname(d) === d) return dir;
  }
}
