import { randomBytes } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import { basename, dirname, extname, join, resolve, sep } from 'node:path';
import { FtcError } from '../errors.js';
import { listFiles, MANIFEST, sha256File } from './cache.js';

/**
 * Copies a finished artifact to the user's `output` path (trainer, export), atomically: the
 * copy is written to `<output>.tmp-<rand>` beside it and renamed over the old output, so a
 * killed run leaves either the previous output or the new one, never half of each.
 *
 * When the artifact is a single file whose extension `output` shares (`model.gguf`), output
 * is that file; otherwise output is a directory holding the artifact's files plus `.ftc-key`
 * (the cache key it came from), which lets a cached run skip copying an up-to-date output.
 */
export const KEY_MARKER = '.ftc-key';

async function readIfExists(file: string): Promise<string | undefined> {
  return fsp.readFile(file, 'utf8').catch(() => undefined);
}

/**
 * Renames tmp over target. A directory cannot be renamed over a non-empty one, so the old one
 * is moved aside first; when another `ftc run` puts its copy in between (ENOTEMPTY/EEXIST),
 * we move that one aside too and try again.
 */
async function replaceAtomically(tmp: string, target: string): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    const old = `${target}.old-${randomBytes(4).toString('hex')}`;
    const hadOld = await fsp.rename(target, old).then(() => true, (e: NodeJS.ErrnoException) => {
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

/** Returns true when it wrote the output, false when the output was already up to date. */
export async function materializeOutput(artifactDir: string, output: string, pipelineDir: string, key: string, fresh: boolean): Promise<boolean> {
  const target = resolve(pipelineDir, output);
  // The old output is replaced wholesale, so it must never be the pipeline's own directory or above it.
  if (target === pipelineDir || pipelineDir.startsWith(target + sep) || target === dirname(target)) {
    throw new FtcError('E_OUTPUT_UNSAFE', `output '${output}' is the pipeline's directory or one of its parents, which ftc would replace`, undefined, 'name a dedicated directory, e.g. output = "lora-finetuned"');
  }
  const files = (await listFiles(artifactDir)).filter((f) => f !== MANIFEST);
  await fsp.mkdir(dirname(target), { recursive: true });
  const tmp = join(dirname(target), `.${basename(target)}.tmp-${randomBytes(4).toString('hex')}`);

  const ext = extname(target);
  if (files.length === 1 && ext !== '' && extname(files[0]) === ext) {
    const source = join(artifactDir, files[0]);
    if (!fresh && (await fsp.stat(target).catch(() => undefined))?.isFile() && (await sha256File(target)) === (await sha256File(source))) return false;
    await fsp.copyFile(source, tmp);
    await replaceAtomically(tmp, target);
    return true;
  }

  if (!fresh && (await readIfExists(join(target, KEY_MARKER)))?.trim() === key) return false;
  try {
    await fsp.mkdir(tmp, { recursive: true });
    for (const f of files) {
      await fsp.mkdir(dirname(join(tmp, f)), { recursive: true });
      await fsp.copyFile(join(artifactDir, f), join(tmp, f));
    }
    await fsp.writeFile(join(tmp, KEY_MARKER), key + '\n');
    await replaceAtomically(tmp, target);
  } catch (e) {
    await fsp.rm(tmp, { recursive: true, force: true });
    throw e;
  }
  return true;
}
