import { Option, type Command } from 'commander';
import { planHash, planPipeline } from '../../compiler/index.js';
import type { JsonValue, Plan } from '../../compiler/ir.js';
import { thisHost, trainerMemoryPlans, type StageMemory } from '../../compiler/memory-plan.js';
import { describeEstimate } from '../../model-spec/memory.js';
import { collect, compilePipelineForCli } from '../compile-files.js';
import { explainAgainstDisk, type StageExplanation } from '../../runtime/explain.js';

/**
 * The JSON form of a plan, one object per stage in execution order. The runtime adds `status` and
 * `reasons` (from the lock file) by extending this one function; a trainer gets its `memory` plan.
 */
export function planJson(plan: Plan, explained?: readonly StageExplanation[], memory: readonly StageMemory[] = []): { planHash: string; stages: { [k: string]: JsonValue }[] } {
  return {
    planHash: planHash(plan),
    stages: plan.stages.map((s, i) => ({
      name: s.name,
      kind: s.kind,
      key: s.key,
      inputs: s.inputs,
      params: s.params,
      ...(explained ? { status: explained[i]!.status, reasons: explained[i]!.reasons } : {}),
      ...memoryJson(memory.find((m) => m.stage === s.name)),
    })),
  };
}

function memoryJson(m: StageMemory | undefined): { memory?: JsonValue } {
  if (!m) return {};
  if ('none' in m) return { memory: { none: m.none } };
  const { backend, shape, target, estimate, fits } = m.plan;
  return { memory: { backend, workers: shape.workers, resident_dtype: target.residentDtype, heap_limit: target.heapBytesPerWorker ?? null, ram: target.ramBytes, fits, ...estimate } };
}

/** A trainer's memory plan, indented under its stage. */
function memoryText(m: StageMemory): string[] {
  if ('none' in m) return [`     memory: no plan: ${m.none}`];
  const { backend, shape, target, estimate } = m.plan;
  return [`     memory on ${backend}, ${shape.workers} worker${shape.workers > 1 ? 's' : ''} (batch ${shape.batchSize}, max_length ${shape.maxLength}${shape.gradientCheckpointing ? ', checkpointed' : ''}):`,
    ...describeEstimate(estimate, target, shape).map((l) => `       ${l}`)];
}

/** Human form: each stage, its key, its resolved parameters (defaults filled in), and a trainer's memory plan. */
export function planText(plan: Plan, explained?: readonly StageExplanation[], memory: readonly StageMemory[] = []): string {
  const lines = [`pipeline ${plan.pipeline} (seed ${plan.seed}), plan ${planHash(plan).slice(0, 12)}`];
  plan.stages.forEach((s, i) => {
    const e = explained?.[i];
    lines.push('', `${i + 1}. ${s.kind} ${s.name}  key ${s.key.slice(0, 12)}${s.inputs.length ? `  <- ${s.inputs.join(', ')}` : ''}${e ? `  [${e.status}]` : ''}`);
    for (const reason of e?.reasons ?? []) lines.push(`     will run: ${reason}`);
    const width = Math.max(...Object.keys(s.params).map((k) => k.length));
    for (const [k, v] of Object.entries(s.params)) lines.push(`     ${k.padEnd(width)} = ${JSON.stringify(v)}`);
    const m = memory.find((x) => x.stage === s.name);
    if (m) lines.push(...memoryText(m));
  });
  return lines.join('\n') + '\n';
}

/** `ftc plan FILE`: stages in execution order with resolved parameters, cache keys, and each trainer's memory plan. */
export function register(program: Command): void {
  program
    .command('plan')
    .description("Show the stages in execution order with their resolved parameters, cache keys, whether each is cached or why it will run (against FILE.lock and the cache), and each trainer's memory estimate against the backend's limits")
    .argument('<file>', 'pipeline file')
    .addOption(new Option('--format <format>', 'output format').choices(['text', 'json']).default('text'))
    .option('--set <stage.key=value>', 'override a value (repeatable)', collect, [])
    .action(async (file: string, o: { format: 'text' | 'json'; set: string[] }) => {
      // A pipeline that does not fit in memory is still planned: the estimate is what its error is about.
      const ir = compilePipelineForCli(file, o.set, true, undefined, ['E_MEMORY_PLAN']);
      if (!ir) return;
      const plan = await planPipeline(ir);
      const explained = await explainAgainstDisk(plan, ir);
      const memory = trainerMemoryPlans(ir, thisHost());
      process.stdout.write(o.format === 'json' ? JSON.stringify(planJson(plan, explained, memory), null, 2) + '\n' : planText(plan, explained, memory));
    });
}
