import { randomBytes } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import type { JsonValue, Plan, PlanStage } from '../compiler/ir.js';
import { FtcError } from '../errors.js';
import { schemas } from '../schema/index.js';

/**
 * The lock file, `FILE.lock` beside the pipeline (`alpaca-lora.ft.lock`): for each stage its
 * kind, version, cache key, the parameters that determine its output, the sha256 of every file
 * it reads and its upstream keys.
 *
 * Format: JSON with every object's keys sorted and two-space indentation. JSON because every
 * tool reads it (jq, editors, CI scripts) and it has no implicit typing (YAML 1.1 readers turn
 * `no` or `1e-4` into other types); sorted keys and one value per line make it diff one change
 * per line, and stages are keyed by name so reordering the pipeline file does not churn it.
 * No timestamps: the same inputs give a byte-identical lock.
 */
export interface LockStage {
  kind: string;
  version: number;
  key: string;
  params: { [key: string]: JsonValue };
  files: { [path: string]: string };
  upstream: { [name: string]: string };
}

export interface LockFile {
  lockfileVersion: 1;
  pipeline: string;
  stages: { [name: string]: LockStage };
}

export function lockPath(pipelineFile: string): string {
  return `${pipelineFile}.lock`;
}

/** Parameters that determine the output: schema keys marked `x-cache: false` (output, log_every...) are left out. */
export function cachedParams(kind: string, params: { [key: string]: JsonValue }): { [key: string]: JsonValue } {
  const props = schemas[kind]?.properties ?? {};
  const out: { [key: string]: JsonValue } = {};
  for (const [k, v] of Object.entries(params)) if (props[k]?.['x-cache'] !== false) out[k] = v;
  return out;
}

export function lockStage(stage: PlanStage): LockStage {
  return {
    kind: stage.kind,
    version: stage.version,
    key: stage.key,
    params: cachedParams(stage.kind, stage.params),
    files: { ...stage.fileHashes },
    upstream: { ...stage.upstreamKeys },
  };
}

export function lockFromPlan(plan: Plan): LockFile {
  const stages: { [name: string]: LockStage } = {};
  for (const s of plan.stages) stages[s.name] = lockStage(s);
  return { lockfileVersion: 1, pipeline: plan.pipeline, stages };
}

export function sortDeep(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(sortDeep);
  if (v && typeof v === 'object') {
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(v).sort()) out[k] = sortDeep((v as Record<string, unknown>)[k]);
    return out;
  }
  return v;
}

export function serializeLock(lock: LockFile): string {
  return JSON.stringify(sortDeep(lock), null, 2) + '\n';
}

/** The lock beside `pipelineFile`, or undefined when there is none. A damaged lock is a user-fixable error. */
export async function readLock(pipelineFile: string): Promise<LockFile | undefined> {
  const file = lockPath(pipelineFile);
  let text: string;
  try {
    text = await fsp.readFile(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
  return parseLock(text, file);
}

export function parseLock(text: string, file: string): LockFile {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (e) {
    throw new FtcError('E_LOCK_INVALID', `lock file is not valid JSON: ${(e as Error).message}`, { file }, 'delete it and run `ftc run` again to regenerate it');
  }
  const lock = parsed as LockFile;
  if (!lock || typeof lock !== 'object' || lock.lockfileVersion !== 1 || typeof lock.stages !== 'object' || lock.stages === null) {
    throw new FtcError('E_LOCK_INVALID', 'lock file has an unknown layout (expected lockfileVersion 1)', { file }, 'delete it and run `ftc run` again to regenerate it');
  }
  return lock;
}

/** Writes the lock atomically (temp file in the same directory, fsync, rename). */
export async function writeLock(pipelineFile: string, lock: LockFile): Promise<void> {
  const file = lockPath(pipelineFile);
  const tmp = join(dirname(file), `.${basename(file)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  const handle = await fsp.open(tmp, 'w');
  try {
    await handle.writeFile(serializeLock(lock));
    await handle.sync();
  } finally {
    await handle.close();
  }
  await fsp.rename(tmp, file);
}
