/**
 * `npm run bench -- compile [--json]`: compile() time (parse, validate, build IR) for the shipped
 * example and for generated N-stage pipelines. Aims: < 5 ms for the example, < 1 s for 5,000 stages.
 * 2,500 / 5,000 / 10,000 stages are timed so that the growth (linear, not quadratic) is visible.
 * Files are not checked (checkFiles: false): this measures the compiler, not the disk.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Benchmark } from './main.js';
import { compile } from '../src/compiler/index.js';

/** A data stage then n-1 preprocess stages, each reading the previous one or an earlier one. */
function generated(n: number): string {
  let text = 'pipeline generated {\n  seed = 1\n}\n\ndata s0 {\n  source = "records.json"\n}\n';
  for (let i = 1; i < n; i++) {
    text += `\n# stage ${i}\npreprocess s${i} {\n  input      = s${i % 7 === 0 ? Math.floor(i / 2) : i - 1}\n  template   = alpaca\n  eval_split = 0.05\n  shuffle    = ${i % 2 === 0}\n}\n`;
  }
  return text;
}

function median(text: string, file: string, runs: number): number {
  compile(text, file, { checkFiles: false }); // warm: ajv compiles each key schema once per process
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    const r = compile(text, file, { checkFiles: false });
    times.push(performance.now() - t0);
    if (!r.ir) throw new Error(`benchmark pipeline ${file} does not compile: ${r.diagnostics[0]?.message}`);
  }
  return times.sort((a, b) => a - b)[Math.floor(times.length / 2)]!;
}

export const benchmark: Benchmark = {
  name: 'compile',
  description: 'compile() time: the example pipeline and generated 2,500/5,000/10,000-stage pipelines',
  async run({ json }) {
    const example = readFileSync(join(process.cwd(), 'pipelines/alpaca-lora.ft'), 'utf8');
    const results: Record<string, number> = { 'alpaca-lora.ft': median(example, 'pipelines/alpaca-lora.ft', 200) };
    for (const n of [2500, 5000, 10000]) results[`${n} stages`] = median(generated(n), `generated-${n}.ft`, 5);
    if (json) {
      process.stdout.write(JSON.stringify({ benchmark: 'compile', medianMs: results }) + '\n');
      return;
    }
    for (const [name, ms] of Object.entries(results)) process.stdout.write(`  ${name.padEnd(16)} ${ms.toFixed(2).padStart(9)} ms (median)\n`);
    const ratio = results['10000 stages']! / results['5000 stages']!;
    process.stdout.write(`  10,000 / 5,000 stages: ${ratio.toFixed(2)}x (2x is linear, 4x quadratic)\n`);
  },
};
