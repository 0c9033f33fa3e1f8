import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { JsonValue, StageKind } from '../../../src/compiler/ir.js';
import type { Artifact, StageContext, StageImpl, StageSummary } from '../../../src/runtime/stage.js';
import { tempDir } from '../../helpers.js';

/**
 * Runs one stage kind outside the executor, the way the executor calls it: a fresh output
 * directory, upstream artifacts by name. Lets stage tests check artifacts directly.
 */
export async function runStage(
  impl: StageImpl,
  name: string,
  params: { [key: string]: JsonValue },
  opts: { pipelineDir?: string; inputs?: Artifact[]; seed?: number; warnings?: string[]; infos?: string[] } = {},
): Promise<{ summary: StageSummary; artifact: Artifact }> {
  const outDir = join(tempDir('ftc-stage-'), 'out');
  mkdirSync(outDir);
  const pipelineDir = opts.pipelineDir ?? tempDir();
  const ctx: StageContext = {
    stage: { name, kind: impl.kind as StageKind, key: `key-${name}`, inputs: (opts.inputs ?? []).map((a) => a.stage), params, version: impl.version, fileHashes: {}, upstreamKeys: {} },
    pipeline: { file: join(pipelineDir, 'p.ft'), dir: pipelineDir, name: 'test', seed: opts.seed ?? 42, settings: {} },
    inputs: Object.fromEntries((opts.inputs ?? []).map((a) => [a.stage, a])),
    outDir,
    log: {
      info: (m) => opts.infos?.push(m),
      warn: (m) => opts.warnings?.push(m),
      progress: () => ({ update: () => {}, done: () => {} }),
    },
    options: {},
  };
  const summary = await impl.run(ctx);
  return { summary, artifact: { stage: name, kind: impl.kind, key: ctx.stage.key, dir: outDir, summary } };
}

export function readJsonlFile(file: string): unknown[] {
  return readFileSync(file, 'utf8').split('\n').filter((l) => l !== '').map((l) => JSON.parse(l));
}
