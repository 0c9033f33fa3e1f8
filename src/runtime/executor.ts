import { promises as fsp } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { PipelineIR, Plan, PlanStage } from '../compiler/ir.js';
import { FtcError } from '../errors.js';
import { ArtifactCache, defaultCacheDir, type Manifest } from './cache.js';
import { lockChanges } from './explain.js';
import { lockFromPlan, readLock, type LockFile } from './lockfile.js';
import { describeWriteError } from './write-error.js';
import { checkOutputReplaceable, materializeOutput } from './materialize.js';
import { ConsoleLogger, formatDuration } from './progress.js';
import type { Artifact, RunOptions, StageLogger, StageSummary } from './stage.js';
import { stageImpl, stageRegistry, type StageRegistry } from './stages/index.js';

/**
 * Runs a plan stage by stage in topological order. For each stage: a verified cache entry is
 * reused; otherwise, under the key's lock, the stage runs into a temp dir that is committed
 * atomically. One summary line per stage. Stages with an `output` parameter (trainer, export)
 * then have their artifact copied to that directory, replaced atomically.
 */
export interface ExecuteOptions extends RunOptions {
  /** Neither read nor write the cache: every stage runs into a scratch dir deleted afterwards. */
  noCache?: boolean;
  /** Re-run these stages and everything downstream (their entries are replaced). */
  force?: readonly string[];
  /** Fail before running anything when the lock file would change. */
  frozen?: boolean;
  registry?: StageRegistry;
  cache?: ArtifactCache;
  /** One summary line per stage (default: stdout). */
  report?: (line: string) => void;
  /** The logger each stage gets (default: a ConsoleLogger on stderr). */
  logger?: (stage: string) => StageLogger;
}

export type PipelineInfo = Pick<PipelineIR, 'file' | 'dir' | 'name' | 'seed' | 'settings'>;

export interface StageOutcome {
  name: string;
  status: 'ran' | 'cached';
  key: string;
  ms: number;
  summary: StageSummary;
  dir: string;
}

export interface ExecuteResult {
  stages: StageOutcome[];
  lock: LockFile;
}

function downstreamOf(plan: Plan, roots: readonly string[]): Set<string> {
  const names = new Set(plan.stages.map((s) => s.name));
  for (const r of roots) {
    if (!names.has(r)) {
      throw new FtcError('E_FORCE_UNKNOWN_STAGE', `--force names stage '${r}', which is not in the pipeline`, undefined, `stages: ${[...names].join(', ')}`);
    }
  }
  const out = new Set(roots);
  for (const s of plan.stages) if (s.inputs.some((u) => out.has(u))) out.add(s.name);
  return out;
}

export function summaryLine(o: Pick<StageOutcome, 'name' | 'status' | 'ms' | 'summary'>, kind: string): string {
  const parts = [`${o.status === 'ran' ? 'ran   ' : 'cached'} ${o.name} (${kind})`, o.status === 'ran' ? formatDuration(o.ms) : '-'];
  for (const [k, v] of Object.entries(o.summary)) {
    if (v === undefined) continue;
    parts.push(`${k} ${typeof v === 'number' ? v.toLocaleString('en-US', { maximumFractionDigits: 4 }) : v}`);
  }
  return parts.join('  ');
}

export async function execute(plan: Plan, pipeline: PipelineInfo, opts: ExecuteOptions = {}): Promise<ExecuteResult> {
  const registry = opts.registry ?? stageRegistry;
  const report = opts.report ?? ((line: string) => process.stdout.write(line + '\n'));
  const makeLogger = opts.logger ?? ((stage: string) => new ConsoleLogger(stage));
  const cache = opts.cache ?? new ArtifactCache(defaultCacheDir(pipeline.dir));
  const runOptions: RunOptions = { resume: opts.resume, workers: opts.workers, backend: opts.backend };
  const lock = lockFromPlan(plan);

  // Everything that can fail fast does so before the first stage runs.
  for (const s of plan.stages) stageImpl(s.kind, registry);
  const forced = downstreamOf(plan, opts.force ?? []);
  for (const s of plan.stages) {
    if (typeof s.params.output === 'string') await checkOutputReplaceable(s.params.output, pipeline.dir, `stage '${s.name}': output`);
  }
  if (opts.frozen) {
    const changes = lockChanges(await readLock(pipeline.file), lock);
    if (changes.length) {
      throw new FtcError(
        'E_LOCK_FROZEN',
        `--frozen: the lock file would change:\n${changes.map((c) => `  - ${c}`).join('\n')}`,
        { file: `${pipeline.file}.lock` },
        'run without --frozen to update the lock file, or revert the change',
      );
    }
  }

  const scratch = opts.noCache ? await fsp.mkdtemp(join(tmpdir(), 'ftc-nocache-')) : undefined;
  if (!scratch) await cache.cleanStaleTemp();
  const artifacts: Record<string, Artifact> = {};
  const outcomes: StageOutcome[] = [];
  try {
    for (const stage of plan.stages) {
      const outcome = scratch
        ? await runUncached(stage, scratch)
        : await runCached(stage, forced.has(stage.name));
      artifacts[stage.name] = { stage: stage.name, kind: stage.kind, key: stage.key, dir: outcome.dir, summary: outcome.summary };
      outcomes.push(outcome);
      report(summaryLine(outcome, stage.kind));
      const output = stage.params.output;
      if (typeof output === 'string') {
        await materializeOutput(outcome.dir, output, pipeline.dir, stage.key, outcome.status === 'ran', { pipeline: pipeline.file, stage: stage.name });
      }
    }
  } finally {
    if (scratch) await fsp.rm(scratch, { recursive: true, force: true });
  }
  return { stages: outcomes, lock };

  async function runStage(stage: PlanStage, outDir: string): Promise<StageSummary> {
    const impl = stageImpl(stage.kind, registry);
    const inputs: Record<string, Artifact> = {};
    for (const u of stage.inputs) inputs[u] = artifacts[u];
    return impl.run({ stage, pipeline, inputs, outDir, log: makeLogger(stage.name), options: runOptions });
  }

  async function runUncached(stage: PlanStage, root: string): Promise<StageOutcome> {
    const dir = await fsp.mkdtemp(join(root, `${stage.name}-`));
    const t0 = performance.now();
    const summary = await runStage(stage, dir);
    return { name: stage.name, status: 'ran', key: stage.key, ms: performance.now() - t0, summary, dir };
  }

  function hit(stage: PlanStage, manifest: Manifest, dir: string): StageOutcome {
    return { name: stage.name, status: 'cached', key: stage.key, ms: 0, summary: manifest.summary, dir };
  }

  async function runCached(stage: PlanStage, force: boolean): Promise<StageOutcome> {
    if (!force) {
      const found = await cache.lookup(stage.key, stage.name);
      if (found.status === 'hit') return hit(stage, found.manifest, found.dir);
    }
    const held = await cache.lock(stage.key, (holder) => makeLogger(stage.name).info(`waiting for ${holder}, which is building this stage`));
    try {
      if (!force) {
        // Another process may have built it while we waited for the lock.
        const again = await cache.check(stage.key, true);
        if (again.status === 'hit') return hit(stage, again.manifest, again.dir);
        if (again.status === 'corrupt') await cache.discard(stage.key);
      }
      const tmp = await cache.makeTempDir(stage.key);
      const t0 = performance.now();
      let summary: StageSummary;
      try {
        summary = await runStage(stage, tmp);
      } catch (e) {
        await fsp.rm(tmp, { recursive: true, force: true });
        throw describeWriteError(e, `stage '${stage.name}' into the cache`);
      }
      const ms = performance.now() - t0;
      await cache.commit(tmp, { key: stage.key, stage: stage.name, kind: stage.kind, version: stage.version, summary });
      return { name: stage.name, status: 'ran', key: stage.key, ms, summary, dir: cache.entryDir(stage.key) };
    } finally {
      await held.release();
    }
  }
}
