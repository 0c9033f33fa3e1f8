import { Option, type Command } from 'commander';
import { planHash, planPipeline } from '../../compiler/index.js';
import type { JsonValue, Plan } from '../../compiler/ir.js';
import { collect, compilePipelineForCli } from '../compile-files.js';
import { explainAgainstDisk, type StageExplanation } from '../../runtime/explain.js';

/**
 * The JSON form of a plan, one object per stage in execution order. The runtime adds `status` and
 * `reasons` (from the lock file) by extending this one function.
 */
export function planJson(plan: Plan, explained?: readonly StageExplanation[]): { planHash: string; stages: { [k: string]: JsonValue }[] } {
  return {
    planHash: planHash(plan),
    stages: plan.stages.map((s, i) => ({
      name: s.name,
      kind: s.kind,
      key: s.key,
      inputs: s.inputs,
      params: s.params,
      ...(explained ? { status: explained[i]!.status, reasons: explained[i]!.reasons } : {}),
    })),
  };
}

/** Human form: each stage, its key, and its resolved parameters (defaults filled in). */
export function planText(plan: Plan, explained?: readonly StageExplanation[]): string {
  const lines = [`pipeline ${plan.pipeline} (seed ${plan.seed}), plan ${planHash(plan).slice(0, 12)}`];
  plan.stages.forEach((s, i) => {
    const e = explained?.[i];
    lines.push('', `${i + 1}. ${s.kind} ${s.name}  key ${s.key.slice(0, 12)}${s.inputs.length ? `  <- ${s.inputs.join(', ')}` : ''}${e ? `  [${e.status}]` : ''}`);
    for (const reason of e?.reasons ?? []) lines.push(`     will run: ${reason}`);
    const width = Math.max(...Object.keys(s.params).map((k) => k.length));
    for (const [k, v] of Object.entries(s.params)) lines.push(`     ${k.padEnd(width)} = ${JSON.stringify(v)}`);
  });
  return lines.join('\n') + '\n';
}

/** `ftc plan FILE`: stages in execution order with resolved parameters and cache keys. */
export function register(program: Command): void {
  program
    .command('plan')
    .description('Show the stages in execution order with their resolved parameters, cache keys, and whether each is cached or why it will run (against FILE.lock and the cache)')
    .argument('<file>', 'pipeline file')
    .addOption(new Option('--format <format>', 'output format').choices(['text', 'json']).default('text'))
    .option('--set <stage.key=value>', 'override a value (repeatable)', collect, [])
    .action(async (file: string, o: { format: 'text' | 'json'; set: string[] }) => {
      const ir = compilePipelineForCli(file, o.set);
      if (!ir) return;
      const plan = await planPipeline(ir);
      const explained = await explainAgainstDisk(plan, ir);
      process.stdout.write(o.format === 'json' ? JSON.stringify(planJson(plan, explained), null, 2) + '\n' : planText(plan, explained));
    });
}
