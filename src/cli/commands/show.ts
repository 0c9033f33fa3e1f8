import { readFileSync } from 'node:fs';
import { IGNORE_INDEX } from '../../model-spec/labels.js';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { type Command, InvalidArgumentError, Option } from 'commander';
import { planPipeline } from '../../compiler/index.js';
import type { Plan } from '../../compiler/ir.js';
import { FtcError } from '../../errors.js';
import { collect, compilePipelineForCli } from '../compile-files.js';

const SPLITS = ['train', 'eval'] as const;

function rowCount(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('expected a positive integer');
  return n;
}

/** The stage and everything it reads from, in plan order: what must exist before it can be shown. */
function upTo(plan: Plan, name: string): Plan {
  const needed = new Set([name]);
  for (const s of [...plan.stages].reverse()) if (needed.has(s.name)) s.inputs.forEach((u) => needed.add(u));
  return { ...plan, stages: plan.stages.filter((s) => needed.has(s.name)) };
}

/**
 * `ftc show FILE STAGE`: what a stage's artifact holds, so users see what the model is trained on
 * (axolotl's --debug). A tokenizer stage: each example's tokens, the trained ones highlighted on a
 * terminal (marked «…» elsewhere), or with --format jsonl one {split, ids, labels} object per example
 * in stored order, train split first. A data or preprocess stage: its rows as JSON lines. The stages
 * run first where the cache lacks them, as `ftc run` would (their summary lines go to stderr).
 */
export function register(program: Command): void {
  program
    .command('show')
    .description("Print a data, preprocess or tokenizer stage's output (tokenized examples with the trained tokens marked), running the stages first if needed")
    .argument('<file>', 'pipeline file')
    .argument('<stage>', 'stage name')
    .option('--rows <n>', 'examples to print (default: all)', rowCount)
    .addOption(new Option('--format <format>', 'output format').choices(['text', 'jsonl']).default('text'))
    .option('--set <stage.key=value>', 'override a value (repeatable)', collect, [])
    .action(async (file: string, name: string, o: { rows?: number; format: 'text' | 'jsonl'; set: string[] }) => {
      const ir = compilePipelineForCli(file, o.set);
      if (!ir) return;
      const plan = await planPipeline(ir);
      const target = plan.stages.find((s) => s.name === name);
      if (!target) {
        throw new FtcError('E_SHOW_STAGE', `no stage named \`${name}\` in ${file}`, undefined, `stages: ${plan.stages.map((s) => s.name).join(', ')}`);
      }
      if (!['data', 'preprocess', 'tokenizer'].includes(target.kind)) {
        throw new FtcError('E_SHOW_STAGE', `ftc show prints data, preprocess and tokenizer stages; \`${name}\` is a ${target.kind} stage`);
      }
      const { execute } = await import('../../runtime/executor.js');
      const result = await execute(upTo(plan, name), ir, { report: (line) => process.stderr.write(line + '\n') });
      const dir = result.stages.find((s) => s.name === name)!.dir;
      const limit = o.rows ?? Infinity;
      const out = (line: string) => process.stdout.write(line + '\n');
      if (target.kind === 'tokenizer') await showTokens(dir, limit, o.format, out);
      else await showRows(dir, target.kind, limit, out);
    });
}

async function showRows(dir: string, kind: string, limit: number, out: (line: string) => void): Promise<void> {
  const { readJsonl } = await import('../../runtime/data/jsonl.js');
  const files = kind === 'data' ? ['records.jsonl'] : ['train.jsonl', 'eval.jsonl'];
  let shown = 0;
  for (const f of files) {
    for await (const item of readJsonl(join(dir, f))) {
      if (shown++ >= limit) return;
      out(JSON.stringify(kind === 'data' ? item.value : { split: f.replace('.jsonl', ''), ...(item.value as object) }));
    }
  }
}

async function showTokens(dir: string, limit: number, format: 'text' | 'jsonl', out: (line: string) => void): Promise<void> {
  const { readTokenDataset } = await import('../../runtime/tokenize/dataset.js');
  const ds = readTokenDataset(dir);
  const require = createRequire(import.meta.url);
  const { Tokenizer } = require('tokenizers') as typeof import('tokenizers');
  const tokenizer = format === 'text' ? Tokenizer.fromString(readFileSync(join(dir, 'tokenizer.json'), 'utf8')) : undefined;
  const color = process.stdout.isTTY && !process.env.NO_COLOR;
  let shown = 0;
  for (const split of SPLITS) {
    const s = ds.split(split);
    for (let i = 0; i < s.count; i++) {
      if (shown++ >= limit) return;
      const e = s.example(i);
      if (format === 'jsonl') {
        out(JSON.stringify({ split, ids: [...e.ids], labels: [...e.labels], ...(ds.meta.packed ? { segments: e.segments } : {}) }));
        continue;
      }
      const trained = e.labels.filter((l) => l !== IGNORE_INDEX).length;
      out(`── ${split} ${i}: ${e.ids.length} tokens, ${trained} trained`);
      let line = '';
      let inTrained = false;
      for (let t = 0; t < e.ids.length; t++) {
        const on = e.labels[t] !== IGNORE_INDEX;
        if (on !== inTrained) line += color ? (on ? '\x1b[32;1m' : '\x1b[0m') : on ? '«' : '»';
        inTrained = on;
        line += (t ? ' ' : '') + JSON.stringify(tokenizer!.idToToken(e.ids[t]) ?? `<${e.ids[t]}>`).slice(1, -1);
      }
      if (inTrained) line += color ? '\x1b[0m' : '»';
      out(line);
    }
  }
}
