/**
 * `npm run bench -- lsp [--runs=N] [--json]`: milliseconds from a didChange to the matching
 * publishDiagnostics for a generated 2,000-line pipeline, through a real JSON-RPC client talking to
 * `ftc lsp` over stdio. The server runs with `--debounce 0`, so the figure is the server's own
 * latency (compile + protocol), not the 150 ms an editor waits for typing to pause. For comparison,
 * the same compile is timed in this process, which tells the compiler's share from the protocol's.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Benchmark } from './main.js';
import { compile } from '../src/compiler/index.js';
import { tempDir } from '../test/helpers.js';
import { fileUri, LspClient } from '../test/lsp/client.js';

/** Chains of data → preprocess → tokenizer → model → lora → trainer until the file has `lines` lines. */
export function generatePipeline(lines: number): string {
  const parts = ['# generated for the lsp benchmark', 'pipeline big {', '  seed = 42', '}'];
  for (let i = 0; parts.join('\n').split('\n').length < lines; i++) {
    parts.push(
      '',
      `data raw${i} {`, '  source = "data/sample.json"', '}',
      '',
      `preprocess prompts${i} {`, `  input      = raw${i}`, '  prompt     = "{instruction}\\n{input}"', '  response   = "{output}"', '  eval_split = 0.05', '}',
      '',
      `tokenizer tok${i} {`, `  input      = prompts${i}`, '  vocab      = "models/tiny/tokenizer.json"', '  max_length = 512', '}',
      '',
      `model base${i} {`, '  path = "models/tiny"', '}',
      '',
      `lora adapter${i} {`, `  model          = base${i}`, '  r              = 8', '  alpha          = 32', '  target_modules = [q_proj, v_proj]', '}',
      '',
      `trainer sft${i} {`, `  model      = adapter${i}`, `  data       = tok${i}`, '  lr         = 2e-4', '  precision  = fp16', `  output     = "out/${i}"`, '}',
    );
  }
  return parts.join('\n') + '\n';
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};
const pct = (xs: number[], p: number): number => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(p * xs.length))]!;

export const benchmark: Benchmark = {
  name: 'lsp',
  description: 'didChange → publishDiagnostics on a 2,000-line pipeline over stdio (server debounce 0 ms)',
  async run({ json, argv }) {
    const runs = Number(argv.find((a) => a.startsWith('--runs='))?.slice(7) ?? 30);
    const warmup = 10; // edits before timing starts, so both sides compare JIT-warm code
    // A project the pipeline's paths resolve in, so the file checks (stat, config.json) run as they would for a user.
    const dir = tempDir('ftc-bench-lsp-');
    mkdirSync(join(dir, 'data'));
    mkdirSync(join(dir, 'models/tiny'), { recursive: true });
    writeFileSync(join(dir, 'data/sample.json'), '[]');
    writeFileSync(join(dir, 'models/tiny/tokenizer.json'), '{}');
    writeFileSync(join(dir, 'models/tiny/config.json'), JSON.stringify({ model_type: 'llama', architectures: ['LlamaForCausalLM'], max_position_embeddings: 2048 }));
    const file = join(dir, 'big.ft');
    const text = generatePipeline(2000);
    const uri = fileUri(file);

    const client = new LspClient(['--debounce', '0']);
    await client.initialize();
    await client.open(uri, text);
    const first = await client.diagnostics(uri, 1);
    const lsp: number[] = [];
    for (let v = 2; v < warmup + runs + 2; v++) {
      const changed = text.replace('lr         = 2e-4', `lr         = ${v}e-4`); // a real edit: the text differs every time
      const t0 = performance.now();
      await client.change(uri, v, changed);
      await client.diagnostics(uri, v);
      if (v >= warmup + 2) lsp.push(performance.now() - t0);
    }
    await client.stop();

    const direct: number[] = [];
    const directCpu: number[] = []; // CPU time: what the compile costs when the machine is shared
    for (let i = 0; i < warmup; i++) compile(text, file, { buildIr: false });
    for (let i = 0; i < runs; i++) {
      const t0 = performance.now();
      const c0 = process.cpuUsage();
      compile(text, file, { buildIr: false }); // as the server compiles: diagnostics only
      const c = process.cpuUsage(c0);
      direct.push(performance.now() - t0);
      directCpu.push((c.user + c.system) / 1000);
    }
    const result = {
      lines: text.split('\n').length - 1,
      runs,
      diagnostics: first.length,
      lspMedianMs: +median(lsp).toFixed(1),
      lspP90Ms: +pct(lsp, 0.9).toFixed(1),
      compileMedianMs: +median(direct).toFixed(1),
      compileCpuMedianMs: +median(directCpu).toFixed(1),
    };
    if (json) process.stdout.write(JSON.stringify({ name: 'lsp', ...result }) + '\n');
    else {
      process.stdout.write(`${result.lines} lines, ${result.diagnostics} diagnostics, ${runs} timed runs after ${warmup} warm-up edits (server debounce 0 ms)\n`);
      process.stdout.write(`didChange → publishDiagnostics: median ${result.lspMedianMs} ms, p90 ${result.lspP90Ms} ms (target < 50 ms)\n`);
      process.stdout.write(`compile() alone, in process:     median ${result.compileMedianMs} ms wall, ${result.compileCpuMedianMs} ms CPU\n`);
    }
  },
};
