/**
 * `npm run bench [-- NAME...] [--json]`: reproducible benchmarks that print figures.
 * Each benchmark is its own file exporting `run(args)`; register it here with one line.
 * Benchmarks measure; tests assert behaviour. Nothing here is run by `npm test`.
 */
export interface Benchmark {
  name: string;
  description: string;
  run(args: { json: boolean; argv: string[] }): Promise<void>;
}

const benchmarks: Array<() => Promise<Benchmark>> = [
  () => import('./kernels.js').then((m) => m.benchmark),
  () => import('./lsp.js').then((m) => m.benchmark),
  () => import('./data.js').then((m) => m.benchmark),
  () => import('./compile.js').then((m) => m.benchmark),
  () => import('./train.js').then((m) => m.benchmark),
  () => import('./hostile.js').then((m) => m.benchmark),
  () => import('./memory.js').then((m) => m.benchmark),
  () => import('./generate.js').then((m) => m.benchmark),
];

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const json = argv.includes('--json');
  // A bare word right after a `--flag` (no `=`) is that flag's value (`--workers 2`), except after --json.
  const isValue = (i: number) => i > 0 && argv[i - 1]!.startsWith('--') && !argv[i - 1]!.includes('=') && argv[i - 1] !== '--json';
  const names = argv.filter((a, i) => !a.startsWith('--') && !isValue(i));
  const all = await Promise.all(benchmarks.map((load) => load()));
  const chosen = names.length ? all.filter((b) => names.includes(b.name)) : all;
  if (names.length && chosen.length !== names.length) {
    const known = all.map((b) => b.name).join(', ');
    process.stderr.write(`unknown benchmark in ${names.join(', ')}; known: ${known}\n`);
    process.exitCode = 2;
    return;
  }
  for (const b of chosen) {
    if (!json) process.stdout.write(`\n== ${b.name}: ${b.description}\n`);
    await b.run({ json, argv });
  }
}

await main();
