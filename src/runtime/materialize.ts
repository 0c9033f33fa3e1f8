import { randomBytes } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import { basename, dirname, extname, join, resolve, sep } from 'node:path';
import { FtcError } from '../errors.js';
import { listFiles, MANIFEST, sha256File } from './cache.js';
import { assertReplaceable, writeMark, type MarkedFile, type OutputMark } from './output-mark.js';
import { describeWriteError } from './write-error.js';

/**
 * Copies a finished artifact to the user's `output` path (trainer, export), atomically: the
 * copy is written to `.<output>.tmp-<rand>` beside it and renamed over the old output, so a
 * killed run leaves either the previous output or the new one, never half of each.
 *
 * When the artifact is a single file whose extension `output` shares (`model.gguf`), output
 * is that file; otherwise output is a directory holding the artifact's files. Either way ftc
 * marks what it wrote (output-mark.ts) and replaces an existing output only when the mark shows
 * it is ftc's, unchanged; the mark's key also lets a cached run skip an up-to-date copy.
 */
export interface OutputOwner {
  pipeline?: string;
  stage?: string;
}

/** Where the output goes, refused when it is the pipeline's directory or one of its parents. */
export function outputTarget(output: string, pipelineDir: string): string {
  const target = resolve(pipelineDir, output);
  if (target === pipelineDir || pipelineDir.startsWith(target + sep) || target === dirname(target)) {
    throw new FtcError('E_OUTPUT_UNSAFE', `output '${output}' is the pipeline's directory or one of its parents, which ftc would replace`, undefined, 'name a dedicated directory, e.g. output = "lora-finetuned"');
  }
  return target;
}

/** Before anything runs: an output ftc could not replace fails the run now rather than after training. */
export async function checkOutputReplaceable(output: string, pipelineDir: string, how: string): Promise<void> {
  const target = outputTarget(output, pipelineDir);
  const st = await fsp.lstat(target).catch(() => undefined);
  if (st) assertReplaceable(target, st.isFile(), output, how);
}

/**
 * Renames tmp over target. A directory cannot be renamed over a non-empty one, so the old one
 * is moved aside first (after checking again that it is ftc's); when another `ftc run` puts its
 * copy in between (ENOTEMPTY/EEXIST), that one is checked and moved aside too.
 */
async function replaceAtomically(tmp: string, target: string, single: boolean, shown: string, how: string): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    if (attempt > 0) assertReplaceable(target, single, shown, how);
    const old = `${dirname(target)}/.${basename(target)}.old-${randomBytes(4).toString('hex')}`;
    const hadOld = !single && await fsp.rename(target, old).then(() => true, (e: NodeJS.ErrnoException) => {
      if (e.code === 'ENOENT') return false;
      throw e;
    });
    try {
      await fsp.rename(tmp, target);
      return;
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if ((code !== 'ENOTEMPTY' && code !== 'EEXIST') || attempt >= 20) throw e;
    } finally {
      if (hadOld) await fsp.rm(old, { recursive: true, force: true });
    }
  }
}

const upToDate = (mark: OutputMark, key: string) => mark.key === key;

/** Returns true when it wrote the output, false when the output was already up to date. */
export async function materializeOutput(artifactDir: string, output: string, pipelineDir: string, key: string, fresh: boolean, owner: OutputOwner = {}): Promise<boolean> {
  const target = outputTarget(output, pipelineDir);
  const how = owner.stage ? `stage '${owner.stage}': output` : 'output';
  const files = (await listFiles(artifactDir)).filter((f) => f !== MANIFEST);
  const ext = extname(target);
  const single = files.length === 1 && ext !== '' && extname(files[0]!) === ext;
  const existing = assertReplaceable(target, single, output, how);
  if (!fresh && existing.state === 'ftc' && upToDate(existing.mark, key)) return false;
  const who = { ...owner, key };
  const tmp = join(dirname(target), `.${basename(target)}.tmp-${randomBytes(4).toString('hex')}`);
  try {
    await fsp.mkdir(dirname(target), { recursive: true });
    if (single) {
      const source = join(artifactDir, files[0]!);
      await fsp.copyFile(source, tmp);
      const marked: MarkedFile = { path: basename(target), size: (await fsp.stat(tmp)).size, sha256: await sha256File(tmp) };
      await replaceAtomically(tmp, target, true, output, how);
      writeMark(target, true, who, [marked]);
      return true;
    }
    await fsp.mkdir(tmp, { recursive: true });
    const marked: MarkedFile[] = [];
    for (const f of files) {
      await fsp.mkdir(dirname(join(tmp, f)), { recursive: true });
      await fsp.copyFile(join(artifactDir, f), join(tmp, f));
      marked.push({ path: f, size: (await fsp.stat(join(tmp, f))).size, sha256: await sha256File(join(tmp, f)) });
    }
    writeMark(tmp, false, who, marked);
    await replaceAtomically(tmp, target, false, output, how);
  } catch (e) {
    await fsp.rm(tmp, { recursive: true, force: true });
    throw describeWriteError(e, `the output ${output}`);
  }
  return true;
}

