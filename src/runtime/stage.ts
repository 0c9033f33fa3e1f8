import type { PipelineIR, PlanStage } from '../compiler/ir.js';

/**
 * The contract between the executor and one stage kind (one file per kind under
 * src/runtime/stages/, registered in src/runtime/stages/index.ts).
 *
 * An artifact is a directory in the cache, `<cache>/<key>/`, written by `run` into
 * `ctx.outDir` (a temporary directory the executor renames into place after writing
 * manifest.json with every file's sha256). Downstream stages read `ctx.inputs[name].dir`.
 */
export interface Artifact {
  stage: string;
  kind: string;
  key: string;
  /** Absolute directory of the finished artifact. */
  dir: string;
  /** What the stage reported when it ran (rows, tokens, ...). */
  summary: StageSummary;
}

export interface StageSummary {
  rows?: number;
  tokens?: number;
  skipped?: number;
  /** Anything else worth one line, e.g. `{ eval_loss: 2.31 }`. */
  [extra: string]: number | string | undefined;
}

export interface StageLogger {
  info(message: string): void;
  warn(message: string): void;
  /** A progress bar on a TTY; silent when not a TTY or CI=true. */
  progress(label: string, total?: number): Progress;
}

export interface Progress {
  update(done: number, fields?: Record<string, string | number>): void;
  done(): void;
}

export interface StageContext {
  stage: PlanStage;
  pipeline: Pick<PipelineIR, 'file' | 'dir' | 'name' | 'seed' | 'settings'>;
  /** Finished upstream artifacts, keyed by upstream stage name. */
  inputs: Record<string, Artifact>;
  /** Empty temporary directory to write this stage's artifact into. */
  outDir: string;
  log: StageLogger;
  /** CLI-level options that do not change the output (resume, workers, backend override). */
  options: RunOptions;
}

export interface RunOptions {
  resume?: boolean;
  workers?: number | 'auto';
  backend?: string;
}

export interface StageImpl {
  kind: string;
  /** Must equal the schema's x-version; bump when the output for the same inputs changes. */
  version: number;
  run(ctx: StageContext): Promise<StageSummary>;
}
