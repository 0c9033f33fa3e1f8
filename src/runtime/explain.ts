import type { JsonValue, Plan } from '../compiler/ir.js';
import { ArtifactCache, defaultCacheDir } from './cache.js';
import { lockStage, readLock, sortDeep, type LockFile, type LockStage } from './lockfile.js';

/**
 * Why each stage of a plan will run, in words a user understands, found by comparing the plan
 * with the lock file (what ran last time) and the cache (what is still there).
 *
 * A stage is `cached` when its entry is in the cache and nothing forces it; otherwise `run`,
 * with reasons: the parameters that changed from what to what, the files whose content
 * changed, the upstream stages that will re-run, a new stage, a new stage version, a missing
 * or corrupt entry, --force or --no-cache.
 */
export type StageStatus = 'cached' | 'run';

export interface StageExplanation {
  name: string;
  status: StageStatus;
  reasons: string[];
}

export interface ExplainOptions {
  /** Stages named by --force (they and everything downstream re-run). */
  force?: Iterable<string>;
  noCache?: boolean;
}

/** Whether the cache holds a valid entry for a key (the caller decides how deeply to check). */
export type InCache = (key: string) => Promise<boolean>;

export function formatValue(v: JsonValue | undefined): string {
  return JSON.stringify(v);
}

function isPlainObject(v: JsonValue | undefined): v is { [key: string]: JsonValue } {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Equal as JSON regardless of key order (the lock on disk has sorted keys, a fresh one may not). */
function sameValue(a: unknown, b: unknown): boolean {
  return JSON.stringify(sortDeep(a)) === JSON.stringify(sortDeep(b));
}

/** Parameter differences, descending into nested blocks (`train.vocab_size`). */
function diffParams(before: { [key: string]: JsonValue }, after: { [key: string]: JsonValue }, prefix = ''): string[] {
  const out: string[] = [];
  const keys = [...new Set([...Object.keys(before), ...Object.keys(after)])].sort();
  for (const k of keys) {
    const name = prefix + k;
    const a = before[k];
    const b = after[k];
    if (sameValue(a, b)) continue;
    if (a === undefined) out.push(`parameter ${name} added (${formatValue(b)})`);
    else if (b === undefined) out.push(`parameter ${name} removed (was ${formatValue(a)})`);
    else if (isPlainObject(a) && isPlainObject(b)) out.push(...diffParams(a, b, `${name}.`));
    else out.push(`parameter ${name} changed from ${formatValue(a)} to ${formatValue(b)}`);
  }
  return out;
}

/** What differs between the lock's record of a stage and the stage now, upstream keys aside. */
export function diffStage(before: LockStage, after: LockStage): string[] {
  const out: string[] = [];
  if (before.kind !== after.kind) out.push(`stage kind changed from ${before.kind} to ${after.kind}`);
  if (before.version !== after.version) out.push(`stage version changed from ${before.version} to ${after.version}`);
  out.push(...diffParams(before.params, after.params));
  const paths = [...new Set([...Object.keys(before.files), ...Object.keys(after.files)])].sort();
  for (const p of paths) {
    const a = before.files[p];
    const b = after.files[p];
    if (a === b) continue;
    if (a === undefined) out.push(`new input file ${p}`);
    else if (b === undefined) out.push(`no longer reads ${p}`);
    else out.push(`content of ${p} changed`);
  }
  const ups = [...new Set([...Object.keys(before.upstream), ...Object.keys(after.upstream)])].sort();
  for (const u of ups) {
    if (before.upstream[u] === undefined) out.push(`new upstream stage ${u}`);
    else if (after.upstream[u] === undefined) out.push(`no longer depends on stage ${u}`);
  }
  return out;
}

export async function explainPlan(plan: Plan, lock: LockFile | undefined, inCache: InCache, opts: ExplainOptions = {}): Promise<StageExplanation[]> {
  const forced = new Set(opts.force ?? []);
  const status = new Map<string, StageStatus>();
  const forcedByUpstream = new Set<string>();
  const out: StageExplanation[] = [];
  // Plan stages are in topological order, so every upstream is decided before its consumers.
  for (const stage of plan.stages) {
    const reasons: string[] = [];
    const now = lockStage(stage);
    const before = lock?.stages[stage.name];
    if (forced.has(stage.name)) reasons.push('forced by --force');
    if (opts.noCache) reasons.push('cache disabled by --no-cache');
    const rerunUpstream = stage.inputs.filter((u) => status.get(u) === 'run');
    const upstreamForced = stage.inputs.some((u) => forced.has(u) || forcedByUpstream.has(u));
    if (upstreamForced) forcedByUpstream.add(stage.name);

    const cached = !opts.noCache && !forced.has(stage.name) && !upstreamForced && (await inCache(stage.key));
    if (!cached) {
      if (!before) reasons.push(lock ? 'new stage' : 'new stage (no lock file yet)');
      else {
        const diffs = before.key === stage.key ? [] : diffStage(before, now);
        reasons.push(...diffs);
        for (const u of rerunUpstream) if (before.upstream[u] !== undefined) reasons.push(`upstream stage ${u} will re-run`);
        if (before.key === stage.key && !opts.noCache && !forced.has(stage.name) && !upstreamForced) reasons.push('not in cache (entry missing or corrupt)');
        if (reasons.length === 0) reasons.push('cache key changed (ftc changed how it computes keys)');
      }
    }
    status.set(stage.name, cached ? 'cached' : 'run');
    out.push({ name: stage.name, status: cached ? 'cached' : 'run', reasons: cached ? [] : dedupe(reasons) });
  }
  return out;
}

/**
 * Explains a plan against the lock file beside the pipeline and its cache, for `ftc plan`.
 * The cache check is sizes-only (cheap, and it changes nothing); `ftc run` verifies checksums.
 */
export async function explainAgainstDisk(plan: Plan, pipeline: { file: string; dir: string }, opts: ExplainOptions = {}): Promise<StageExplanation[]> {
  const lock = await readLock(pipeline.file);
  const cache = new ArtifactCache(defaultCacheDir(pipeline.dir), () => undefined);
  return explainPlan(plan, lock, async (key) => (await cache.check(key, false)).status === 'hit', opts);
}

function dedupe(xs: string[]): string[] {
  return [...new Set(xs)];
}

/** Every way the lock would change, as `stage NAME: reason` lines (for --frozen). */
export function lockChanges(before: LockFile | undefined, after: LockFile): string[] {
  if (!before) return ['there is no lock file yet'];
  const out: string[] = [];
  for (const name of Object.keys(before.stages).sort()) {
    if (!after.stages[name]) out.push(`stage ${name}: removed from the pipeline`);
  }
  for (const name of Object.keys(after.stages).sort()) {
    const was = before.stages[name];
    const now = after.stages[name];
    if (!was) {
      out.push(`stage ${name}: new stage`);
      continue;
    }
    if (was.key === now.key && sameValue(was, now)) continue;
    const diffs = diffStage(was, now);
    for (const u of Object.keys(now.upstream).sort()) {
      if (was.upstream[u] !== undefined && was.upstream[u] !== now.upstream[u]) diffs.push(`upstream stage ${u} changed`);
    }
    if (diffs.length === 0) diffs.push('cache key changed');
    for (const d of diffs) out.push(`stage ${name}: ${d}`);
  }
  if (before.pipeline !== after.pipeline) out.push(`pipeline name changed from ${before.pipeline} to ${after.pipeline}`);
  return out;
}
