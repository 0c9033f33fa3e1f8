import { createHash } from 'node:crypto';
import { closeSync, lstatSync, mkdirSync, openSync, readdirSync, readFileSync, readSync, writeFileSync, type Stats } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { FtcError } from '../errors.js';
import { writeFileAtomic } from './atomic-file.js';

/**
 * ftc replaces an output (a trainer's or export's `output`, `ftc export --out`) only when it can
 * prove it wrote what is there: a mark, `.ftc-output.json`, names the pipeline, stage and cache key
 * and lists every file with its size and sha256. A directory output holds its mark; a single-file
 * output (`model.gguf`) has it beside it as `.model.gguf.ftc-output.json`. Anything else at the
 * path (a user's directory, a data file, a model, a symlink) is refused, never moved or deleted.
 */
export const OUTPUT_MARK = '.ftc-output.json';

/**
 * Inside a trainer's output, `checkpoints/step-N` (and `step-N.tmp-PID` of a killed save) are
 * ftc's own too: they are written after the output was claimed, so the mark cannot list them.
 */
const CHECKPOINTS = 'checkpoints';
const LEGACY_KEY_FILE = '.ftc-key';
const CHECKPOINT_STEP = /^step-\d+(\.tmp-\d+)?$/;

export interface MarkedFile {
  path: string;
  size: number;
  sha256: string;
}

export interface OutputMark {
  written_by: 'ftc';
  pipeline?: string;
  stage?: string;
  key?: string;
  files: MarkedFile[];
}

export type Ownership =
  | { state: 'absent' }
  | { state: 'empty' }
  | { state: 'ftc'; mark: OutputMark }
  | { state: 'foreign'; reason: string };

export function markPath(target: string, single: boolean): string {
  return single ? join(dirname(target), `.${basename(target)}${OUTPUT_MARK}`) : join(target, OUTPUT_MARK);
}

export function sha256FileSync(file: string): string {
  const hash = createHash('sha256');
  const fd = openSync(file, 'r');
  try {
    const buf = Buffer.allocUnsafe(1 << 20);
    for (let n; (n = readSync(fd, buf, 0, buf.length, null)) > 0;) hash.update(buf.subarray(0, n));
  } finally {
    closeSync(fd);
  }
  return hash.digest('hex');
}

function lstatOrUndefined(path: string): Stats | undefined {
  try {
    return lstatSync(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
}

function readMark(file: string): OutputMark | undefined {
  try {
    const m = JSON.parse(readFileSync(file, 'utf8')) as OutputMark;
    return m && m.written_by === 'ftc' && Array.isArray(m.files) ? m : undefined;
  } catch {
    return undefined;
  }
}

function kindOf(st: Stats): string {
  if (st.isSymbolicLink()) return 'a symbolic link';
  if (st.isDirectory()) return 'a directory';
  if (st.isFile()) return 'a file';
  return 'a special file (device, FIFO or socket)';
}

/** The first entry under `dir` (relative path) that is not as the mark says ftc wrote it, or undefined. */
function firstForeign(dir: string, listed: Map<string, MarkedFile>, prefix = ''): string | undefined {
  for (const entry of readdirSync(join(dir, prefix), { withFileTypes: true })) {
    const rel = prefix ? `${prefix}/${entry.name}` : entry.name;
    if (rel === OUTPUT_MARK) continue;
    if (rel === CHECKPOINTS && entry.isDirectory()) {
      for (const step of readdirSync(join(dir, rel), { withFileTypes: true })) {
        const stepRel = `${rel}/${step.name}`;
        if (!step.isDirectory() || !CHECKPOINT_STEP.test(step.name)) return `${stepRel} is not a checkpoint ftc wrote`;
        for (const f of readdirSync(join(dir, stepRel), { withFileTypes: true })) {
          if (!f.isFile()) return `${stepRel}/${f.name} is not a checkpoint file ftc wrote`;
        }
      }
      continue;
    }
    if (entry.isDirectory()) {
      const inner = firstForeign(dir, listed, rel);
      if (inner) return inner;
      continue;
    }
    const known = listed.get(rel);
    if (!entry.isFile() || !known) return `${rel} is not one of the files ftc wrote there`;
    const full = join(dir, rel);
    if (lstatSync(full).size !== known.size || sha256FileSync(full) !== known.sha256) return `${rel} was changed after ftc wrote it`;
  }
  return undefined;
}

/** Whether ftc may replace what is at `target` (a directory output, or a single file when `single`). */
export function ownership(target: string, single: boolean): Ownership {
  const st = lstatOrUndefined(target);
  if (!st) return { state: 'absent' };
  const want = single ? 'a file' : 'a directory';
  if (kindOf(st) !== want) return { state: 'foreign', reason: `it is ${kindOf(st)}, not ${want} ftc wrote` };
  const mark = readMark(markPath(target, single));
  if (single) {
    const only = mark?.files.length === 1 ? mark.files[0]! : undefined;
    if (!only) return { state: 'foreign', reason: `it is a file ftc did not write (there is no ${basename(markPath(target, true))} beside it)` };
    if (st.size !== only.size || sha256FileSync(target) !== only.sha256) return { state: 'foreign', reason: 'it was changed after ftc wrote it' };
    return { state: 'ftc', mark: mark! };
  }
  if (readdirSync(target).length === 0) return { state: 'empty' };
  if (!mark) {
    // Before marks, ftc left only its cache key (.ftc-key), which does not prove what else is there.
    const legacy = lstatOrUndefined(join(target, LEGACY_KEY_FILE))?.isFile();
    return { state: 'foreign', reason: legacy
      ? `it was written by an older ftc, which did not record its files (it has ${LEGACY_KEY_FILE} but no ${OUTPUT_MARK}); delete it once to let ftc write it again`
      : `it is a non-empty directory ftc did not write (it has no ${OUTPUT_MARK})` };
  }
  const problem = firstForeign(target, new Map(mark.files.map((f) => [f.path, f])));
  return problem ? { state: 'foreign', reason: problem } : { state: 'ftc', mark };
}

/**
 * Throws E_OUTPUT_NOT_FTC unless `target` is absent, an empty directory, or what ftc wrote.
 * `shown` is the path as the user wrote it; `how` says where it was set (e.g. `trainer 'sft': output`).
 */
export function assertReplaceable(target: string, single: boolean, shown: string, how: string): Ownership {
  const own = ownership(target, single);
  if (own.state === 'foreign') {
    throw new FtcError('E_OUTPUT_NOT_FTC', `${how} "${shown}" already exists and ftc will not replace it: ${own.reason}`, { file: target },
      'choose another output path, or move or delete it yourself if you no longer need it');
  }
  return own;
}

/** Writes the mark for the files now in `dir` (a directory output) or for the single file `target`. */
export function writeMark(target: string, single: boolean, who: Omit<OutputMark, 'written_by' | 'files'>, files: MarkedFile[]): void {
  const mark: OutputMark = { written_by: 'ftc', ...who, files };
  writeFileAtomic(markPath(target, single), (fd) => writeFileSync(fd, JSON.stringify(mark, null, 2) + '\n'));
}

/**
 * Claims a directory output before ftc writes into it (the trainer's checkpoints): refused unless
 * replaceable; an absent one is created with an empty mark, so that it is recognised as ftc's
 * even when the run is killed before the output is complete.
 */
export function claimOutputDir(target: string, shown: string, how: string, who: Omit<OutputMark, 'written_by' | 'files'>): void {
  const own = assertReplaceable(target, false, shown, how);
  if (own.state === 'ftc') return;
  mkdirSync(target, { recursive: true });
  writeMark(target, false, who, []);
}
