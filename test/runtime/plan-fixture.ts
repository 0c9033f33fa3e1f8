import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { JsonValue, Plan, PlanStage, StageKind } from '../../src/compiler/ir.js';
import { cachedParams } from '../../src/runtime/lockfile.js';
import type { StageImpl } from '../../src/runtime/stage.js';
import { makeRegistry } from '../../src/runtime/stages/index.js';
import { promises as fsp } from 'node:fs';

/**
 * Hand-built plans and counting test-double stages for the runtime tests, independent of the
 * compiler: keys are sha256 of sorted JSON of {kind, version, params, upstream keys, file hashes},
 * the recipe DESIGN.md gives.
 */
export interface StageSpec {
  name: string;
  kind: StageKind;
  params: { [key: string]: JsonValue };
  inputs?: string[];
  files?: string[];
  version?: number;
}

function sorted(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(sorted);
  if (v && typeof v === 'object') return Object.fromEntries(Object.keys(v).sort().map((k) => [k, sorted((v as Record<string, unknown>)[k])]));
  return v;
}

const sha = (data: string | Buffer): string => createHash('sha256').update(data).digest('hex');

export function makePlan(dir: string, specs: StageSpec[], pipeline = 'test'): Plan {
  const keys: Record<string, string> = {};
  const stages: PlanStage[] = specs.map((s) => {
    const fileHashes: Record<string, string> = {};
    for (const f of s.files ?? []) fileHashes[f] = sha(readFileSync(join(dir, f)));
    const upstreamKeys: Record<string, string> = {};
    for (const u of s.inputs ?? []) upstreamKeys[u] = keys[u];
    const version = s.version ?? 1;
    const key = sha(JSON.stringify(sorted({ kind: s.kind, version, params: cachedParams(s.kind, s.params), upstreamKeys, fileHashes })));
    keys[s.name] = key;
    return { name: s.name, kind: s.kind, key, inputs: s.inputs ?? [], params: s.params, version, fileHashes, upstreamKeys };
  });
  return { pipeline, seed: 42, settings: {}, stages };
}

export function pipelineInfo(dir: string, name = 'test') {
  return { file: join(dir, 'p.ft'), dir, name, seed: 42, settings: {} };
}

/**
 * Three counting kinds standing in for data → tokenizer → trainer: data copies its source
 * file, tokenizer upper-cases its input, trainer writes its input plus lr. Real files are
 * read and written so cache hits are observable through content.
 */
export function countingRegistry() {
  const runs: string[] = [];
  const impl = (kind: string, run: StageImpl['run']): StageImpl => ({ kind, version: 1, run: async (ctx) => (runs.push(ctx.stage.name), run(ctx)) });
  const registry = makeRegistry([
    impl('data', async (ctx) => {
      const text = await fsp.readFile(join(ctx.pipeline.dir, String(ctx.stage.params.source)), 'utf8');
      await fsp.writeFile(join(ctx.outDir, 'rows.txt'), text);
      return { rows: text.split('\n').filter(Boolean).length };
    }),
    impl('tokenizer', async (ctx) => {
      const input = Object.values(ctx.inputs)[0];
      const text = await fsp.readFile(join(input.dir, 'rows.txt'), 'utf8');
      await fsp.mkdir(join(ctx.outDir, 'sub'));
      await fsp.writeFile(join(ctx.outDir, 'sub', 'tokens.txt'), text.toUpperCase());
      return { rows: input.summary.rows, tokens: text.length };
    }),
    impl('trainer', async (ctx) => {
      const input = ctx.inputs[String(ctx.stage.params.data)];
      const text = await fsp.readFile(join(input.dir, 'sub', 'tokens.txt'), 'utf8');
      await fsp.writeFile(join(ctx.outDir, 'adapter.txt'), `${text}lr=${ctx.stage.params.lr}\n`);
      return { loss: 1.5 };
    }),
  ]);
  return { runs, registry };
}

/** raw(data) → tok(tokenizer) → sft(trainer), plus an independent other(data) branch. */
export function chainSpecs(over: { lr?: number; logEvery?: number } = {}): StageSpec[] {
  return [
    { name: 'raw', kind: 'data', params: { source: 'a.txt', on_error: 'fail' }, files: ['a.txt'] },
    { name: 'other', kind: 'data', params: { source: 'b.txt', on_error: 'fail' }, files: ['b.txt'] },
    { name: 'tok', kind: 'tokenizer', params: { input: 'raw', max_length: 16 }, inputs: ['raw'] },
    {
      name: 'sft',
      kind: 'trainer',
      params: { data: 'tok', model: 'adapter', lr: over.lr ?? 0.0002, log_every: over.logEvery ?? 10, output: 'out/adapter' },
      inputs: ['tok'],
    },
  ];
}
