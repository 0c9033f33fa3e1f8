/**
 * `npm run bench -- hostile [--json]`: compile + text diagnostics (what `ftc check` prints) for
 * hostile inputs: N one-character errors, N one-line stages, and 10,000 nested brackets. Each size
 * is doubled so the growth is visible (2x is linear, 4x quadratic). Aim: a few seconds at most for
 * a file under 1 MB (30,000 errors once took 77 s as text). Files are not checked (checkFiles: false).
 */
import type { Benchmark } from './main.js';
import { printDiagnostics } from '../src/cli/diagnostics-print.js';
import { compile } from '../src/compiler/index.js';

const inputs: Record<string, (n: number) => string> = {
  'one-char errors': (n) => 'pipeline p { seed = 1 }\n' + '@\n'.repeat(n),
  'one-line stages': (n) => Array.from({ length: n }, (_, i) => `data d${i} { source = "x${i}.json" }`).join('\n') + '\n',
  'nested brackets': (n) => `pipeline p { seed = 1 }\ndata raw {\n  x = ${'['.repeat(n)}${']'.repeat(n)}\n}\n`,
};

function checkMs(text: string): number {
  const t0 = performance.now();
  const r = compile(text, 'h.ft', { checkFiles: false });
  printDiagnostics(r.diagnostics, new Map([['h.ft', text]]), 'text');
  return performance.now() - t0;
}

export const benchmark: Benchmark = {
  name: 'hostile',
  description: 'check + text diagnostics on hostile inputs (15,000/30,000 errors, 8,000/16,000 stages, 10,000/20,000 brackets)',
  async run({ json }) {
    checkMs(inputs['one-char errors']!(100)); // warm
    const sizes: Record<string, [number, number]> = { 'one-char errors': [15_000, 30_000], 'one-line stages': [8_000, 16_000], 'nested brackets': [10_000, 20_000] };
    const results: Record<string, Record<string, number>> = {};
    for (const [name, [a, b]] of Object.entries(sizes)) results[name] = { [a]: checkMs(inputs[name]!(a)), [b]: checkMs(inputs[name]!(b)) };
    if (json) {
      process.stdout.write(JSON.stringify({ benchmark: 'hostile', ms: results }) + '\n');
      return;
    }
    for (const [name, byN] of Object.entries(results)) {
      const [[n1, t1], [n2, t2]] = Object.entries(byN) as [string, number][];
      process.stdout.write(`  ${name.padEnd(16)} ${n1}: ${t1.toFixed(0).padStart(6)} ms   ${n2}: ${t2.toFixed(0).padStart(6)} ms   (${(t2 / t1).toFixed(2)}x)\n`);
    }
  },
};
