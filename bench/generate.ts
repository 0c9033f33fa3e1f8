/**
 * `npm run bench -- generate [--json] [--tokens N] [--repeats N] [--warmup N] [--profile] [--only NAME] [--threads 1,2] [--dir DIR]`
 *
 * Greedy generation, ftc against llama.cpp on the same weights, in one run. Per model: a checkpoint is
 * written to a temporary directory (the reference model exactly as `ftc init-model` writes it with its
 * defaults; the Qwen2.5-0.5B shape as bench/memory.ts writes it, random BF16 shards, with the reference
 * model's tokenizer files: the GGUF's rows past that vocabulary become unused [PAD] tokens), exported to an
 * f32 GGUF by ftc's exporter (src/runtime/export/gguf.ts), and then:
 *   - ftc: the model directory loaded as `ftc generate` loads it, `generate()` greedy from the prompt's ids
 *     (the end-of-sequence id disabled, so both sides emit N tokens). Arithmetic is f32; the bf16 shards'
 *     linear weights stay 16-bit and are widened (exactly) inside ftc's kernels, the embeddings are widened
 *     at load; on the wasm backend, which runs one thread.
 *   - llama.cpp: node-llama-cpp 3.21.1's prebuilt CPU binary on that GGUF (f32 weights, f32 KV cache, the
 *     same precision), the same prompt ids, greedy (temperature 0), with 1 and 2 threads.
 * Prompt tokens/s is the prompt's length over the time to the first new token (the prompt pass and one
 * pick); decode tokens/s is the other N − 1 tokens over their time. Each side runs a warm-up (ftc: --warmup
 * whole runs, default 3, for V8's optimising tier; its first run's decode rate is printed too; llama.cpp, native
 * code: one), then --repeats runs (default 2) of which the fastest counts: other engineers' processes slow some down. The ratio is llama.cpp's tokens/s over ftc's (1 thread
 * against 1 thread). Both sides' greedy tokens must agree on the reference model (printed): a check that
 * they run the same model, not a benchmark figure. The machine is shared: the load average is printed at
 * each row's start and end. --profile adds one untimed ftc run with every kernel timed (bench/kernel-profile.ts):
 * kernel calls and milliseconds per decoded token, by kernel.
 */
import { mkdtempSync, rmSync, copyFileSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadLlamaConfig } from '../src/model-spec/config.js';
import { writeModelGguf } from '../src/runtime/export/gguf.js';
import { INIT_MODEL_DEFAULTS, initModel, readCorpusTexts } from '../src/runtime/model/init.js';
import { loadWeights } from '../src/runtime/model/weights.js';
import type { Benchmark } from './main.js';
import { QWEN, writeCheckpoint } from './memory.js';
import { type Llama, openLlamaContext, openLlamaCpp } from '../test/llama-cpp.js';
import { type KernelStat, profileKernels } from './kernel-profile.js';
import type { LlamaCausalLM } from '../src/runtime/model/causal-lm.js';

const PROMPT = 'Below is an instruction that describes a task. Write a response that appropriately completes the request. Give three tips for staying healthy.';
const TOKENIZER_FILES = ['tokenizer.json', 'tokenizer_config.json', 'special_tokens_map.json'];

interface Side {
  prompt_tokens_per_s: number;
  decode_tokens_per_s: number;
  decode_cpu_ms_per_token: number;
  tokens: number[];
}

interface Row {
  model: string;
  prompt_tokens: number;
  new_tokens: number;
  gguf_mib: number;
  ftc: Side & { backend: string; threads: 1; load_s: number; first_decode_tokens_per_s: number; profile?: KernelStat[] };
  llama_cpp: Array<Side & { threads: number }>;
  /** llama.cpp tokens/s over ftc's, both on one thread. */
  ratio_prompt: number;
  ratio_decode: number;
  tokens_agree: boolean;
  first_difference?: number;
  load_average_start: number[];
  load_average_end: number[];
}

/** Writes the model directory `dir` for `name` (`reference`: the tokenizer files' source for the others). */
function writeModel(name: string, dir: string, reference: string): void {
  if (name === 'reference') {
    const corpus = readCorpusTexts(join(repoRoot(), 'data', 'alpaca_sample.json'));
    initModel(dir, { ...INIT_MODEL_DEFAULTS, corpus });
    return;
  }
  writeCheckpoint(dir, { name: 'Qwen2.5-0.5B', configJson: QWEN });
  for (const f of TOKENIZER_FILES) copyFileSync(join(reference, f), join(dir, f));
}

function repoRoot(): string {
  return fileURLToPath(new URL('../..', import.meta.url));
}

/** ftc's side: load as `ftc generate` does, then time generate() token by token (its onToken is the clock). */
async function runFtc(dir: string, prompt: number[], n: number, repeats: number, warmup: number, profile: boolean): Promise<Row['ftc']> {
  const { loadCausalLM } = await import('../src/runtime/model/causal-lm.js');
  const { generate } = await import('../src/runtime/model/generate.js');
  const t0 = performance.now();
  const model = loadCausalLM(dir);
  const loadS = (performance.now() - t0) / 1000;
  try {
    const once = () => {
      const start = performance.now();
      let first = 0;
      let cpu = process.cpuUsage();
      const onToken = () => {
        if (first) return;
        first = performance.now();
        cpu = process.cpuUsage();
      };
      const tokens = generate(model, prompt, { maxNewTokens: n, eosTokenIds: [], onToken });
      return { firstMs: first - start, restMs: performance.now() - first, restCpuMs: cpuMs(process.cpuUsage(cpu)), tokens };
    };
    // Warm-up: kernel set-up, first allocations and V8's optimising tier, which takes several whole runs to
    // replace the baseline code of the per-token path (a small model's first run decodes ~4× slower than its
    // later ones). The first run's decode rate is kept: it is what a one-off `ftc generate` sees.
    const warm = Array.from({ length: warmup }, once);
    const runs = Array.from({ length: repeats }, once);
    const first = warm[0] ?? runs[0]!;
    return {
      backend: await backendName(), threads: 1, load_s: round(loadS, 1), tokens: runs[0]!.tokens, ...rates(runs, prompt.length, n),
      first_decode_tokens_per_s: round((n - 1) / (first.restMs / 1000), 2),
      ...(profile ? { profile: await decodeProfile(model, prompt, n) } : {}),
    };
  } finally {
    model.dispose();
  }
}

/** One more (untimed) run with every kernel wrapped in a timer: calls and ms per decoded token, by kernel. */
async function decodeProfile(model: LlamaCausalLM, prompt: number[], n: number): Promise<KernelStat[]> {
  const { generate } = await import('../src/runtime/model/generate.js');
  const profiler = profileKernels(await backendName());
  let started = false;
  let stats: KernelStat[];
  try {
    // The counts restart at the first new token: what follows is decoding only.
    generate(model, prompt, { maxNewTokens: n, eosTokenIds: [], onToken: () => { if (!started) profiler.reset(); started = true; } });
  } finally {
    stats = profiler.stop();
  }
  return stats.map((s) => ({ kernel: s.kernel, calls: round(s.calls / (n - 1), 1), ms: round(s.ms / (n - 1), 3) }));
}

/**
 * Prompt tokens/s (prompt over the time to the first new token) and decode tokens/s (the rest), fastest runs;
 * and the process CPU time per decoded token (every thread), which other processes' load inflates far less.
 */
function rates(runs: Array<{ firstMs: number; restMs: number; restCpuMs: number }>, promptLength: number, n: number): Omit<Side, 'tokens'> {
  return {
    prompt_tokens_per_s: round(promptLength / (Math.min(...runs.map((r) => r.firstMs)) / 1000), 1),
    decode_tokens_per_s: round((n - 1) / (Math.min(...runs.map((r) => r.restMs)) / 1000), 2),
    decode_cpu_ms_per_token: round(Math.min(...runs.map((r) => r.restCpuMs)) / (n - 1), 3),
  };
}

function cpuMs(u: NodeJS.CpuUsage): number {
  return (u.user + u.system) / 1000;
}

async function backendName(): Promise<string> {
  const tf = await import('../src/runtime/tf.js');
  return tf.getBackend();
}

async function openLlama(): Promise<Llama> {
  const opened = await openLlamaCpp();
  if ('reason' in opened) throw new Error(opened.reason);
  return opened.llama;
}

/** llama.cpp's side: the prompt in one batch, then one token per call, greedy. */
async function runLlama(llama: Llama, gguf: string, prompt: number[], n: number, threads: number, repeats: number): Promise<Side & { threads: number }> {
  const { model, context } = await openLlamaContext(llama, gguf, { contextSize: prompt.length + n + 8, threads });
  try {
    const seq = context.getSequence();
    const pick = [{ generateNext: { token: true, options: { temperature: 0 } } }];
    const once = async () => {
      await seq.clearHistory();
      const start = performance.now();
      const res = await seq.controlledEvaluate(prompt.map((t, i) => (i === prompt.length - 1 ? [t, ...pick] : t)));
      const tokens = [res[prompt.length - 1]!.next.token!];
      const firstMs = performance.now() - start;
      const cpu = process.cpuUsage();
      while (tokens.length < n) tokens.push((await seq.controlledEvaluate([[tokens[tokens.length - 1]!, ...pick]]))[0]!.next.token!);
      return { firstMs, restMs: performance.now() - start - firstMs, restCpuMs: cpuMs(process.cpuUsage(cpu)), tokens };
    };
    await once(); // warm-up
    const runs = [];
    for (let i = 0; i < repeats; i++) runs.push(await once());
    return { threads, tokens: runs[0]!.tokens, ...rates(runs, prompt.length, n) };
  } finally {
    await context.dispose();
    await model.dispose();
  }
}

async function measure(name: string, root: string, reference: string, o: { n: number; threads: number[]; repeats: number; warmup: number; profile: boolean }, llama: Llama): Promise<Row> {
  const load_average_start = loadavg().map((x) => round(x, 2));
  const dir = join(root, name);
  if (name !== 'reference') writeModel(name, dir, reference);
  const gguf = join(root, `${name}.gguf`);
  const config = loadLlamaConfig(dir);
  const bytes = writeModelGguf(gguf, { config, weights: loadWeights(dir, config), modelDir: dir, dtype: 'f32', name });
  const { loadTokenizerFile } = await import('../src/runtime/tokenize/load.js');
  const file = join(dir, 'tokenizer.json');
  const prompt = (await loadTokenizerFile(file, file).tokenizer.encode(PROMPT)).getIds();
  try {
    const ftc = await runFtc(dir, prompt, o.n, o.repeats, o.warmup, o.profile);
    const llamaRows = [];
    for (const t of o.threads) llamaRows.push(await runLlama(llama, gguf, prompt, o.n, t, o.repeats));
    const one = llamaRows.find((r) => r.threads === 1) ?? llamaRows[0]!;
    const diff = ftc.tokens.findIndex((t, i) => t !== one.tokens[i]);
    return {
      model: name, prompt_tokens: prompt.length, new_tokens: o.n,
      gguf_mib: Math.round(bytes / 2 ** 20), ftc, llama_cpp: llamaRows,
      ratio_prompt: round(one.prompt_tokens_per_s / ftc.prompt_tokens_per_s, 2),
      ratio_decode: round(one.decode_tokens_per_s / ftc.decode_tokens_per_s, 2),
      tokens_agree: diff < 0, ...(diff >= 0 ? { first_difference: diff } : {}),
      load_average_start, load_average_end: loadavg().map((x) => round(x, 2)),
    };
  } finally {
    if (name !== 'reference') rmSync(dir, { recursive: true, force: true });
    rmSync(gguf, { force: true });
  }
}

export const benchmark: Benchmark = {
  name: 'generate',
  description: 'greedy generation, ftc against llama.cpp (node-llama-cpp) on the same exported f32 GGUF: prompt and decode tokens/s',
  async run({ json, argv }) {
    const opt = (name: string): string | undefined => {
      const i = argv.findIndex((a) => a === `--${name}` || a.startsWith(`--${name}=`));
      if (i < 0) return undefined;
      return argv[i]!.includes('=') ? argv[i]!.split('=')[1] : argv[i + 1];
    };
    const n = Number(opt('tokens') ?? 32);
    const only = opt('only');
    const threads = (opt('threads') ?? '1,2').split(',').map(Number);
    const repeats = Number(opt('repeats') ?? 2);
    const warmup = Number(opt('warmup') ?? 3);
    const root = opt('dir') ?? mkdtempSync(join(tmpdir(), 'ftc-bench-generate-'));
    const { initBackend } = await import('../src/runtime/backend.js');
    await initBackend('wasm');
    const llama = await openLlama();
    const rows: Row[] = [];
    try {
      const reference = join(root, 'reference');
      writeModel('reference', reference, reference);
      for (const name of ['reference', 'Qwen2.5-0.5B'].filter((x) => !only || x.startsWith(only))) {
        if (!json) process.stderr.write(`  ${name}: writing, exporting, generating ${n} tokens...\n`);
        const row = await measure(name, root, reference, { n, threads, repeats, warmup, profile: argv.includes('--profile') }, llama);
        rows.push(row);
        if (!json) process.stdout.write(formatRow(row));
      }
    } finally {
      await llama.dispose();
      if (!opt('dir')) rmSync(root, { recursive: true, force: true });
    }
    if (json) process.stdout.write(JSON.stringify({ benchmark: 'generate', cores: availableParallelism(), gguf: 'f32', rows }) + '\n');
  },
};

function formatRow(r: Row): string {
  const side = (label: string, s: Side) => `    ${label.padEnd(26)} prompt ${String(s.prompt_tokens_per_s).padStart(8)} tokens/s, decode ${String(s.decode_tokens_per_s).padStart(8)} tokens/s (CPU ${s.decode_cpu_ms_per_token} ms/token)\n`;
  let out = `${r.model}: f32 GGUF ${r.gguf_mib} MiB, prompt ${r.prompt_tokens} tokens, ${r.new_tokens} new (greedy); load average ${r.load_average_start.join(' ')} at start, ${r.load_average_end.join(' ')} at end\n`;
  out += side(`ftc (${r.ftc.backend}, 1 thread)`, r.ftc);
  out += `    ${''.padEnd(26)} (its first run, before V8 has optimised the per-token path: decode ${r.ftc.first_decode_tokens_per_s} tokens/s)\n`;
  for (const l of r.llama_cpp) out += side(`llama.cpp (${l.threads} thread${l.threads === 1 ? '' : 's'})`, l);
  if (r.ftc.profile) {
    const inside = r.ftc.profile.reduce((a, k) => a + k.ms, 0);
    out += `    ftc kernels per decoded token: ${round(r.ftc.profile.reduce((a, k) => a + k.calls, 0), 0)} calls, ${round(inside, 2)} ms inside them (wall):\n`;
    for (const k of r.ftc.profile.slice(0, 12)) out += `      ${k.kernel.padEnd(24)} ${String(k.calls).padStart(7)} calls ${String(k.ms).padStart(9)} ms\n`;
  }
  out += `    llama.cpp / ftc, 1 thread each: prompt ×${r.ratio_prompt}, decode ×${r.ratio_decode}; greedy tokens ${r.tokens_agree ? 'agree' : `differ from position ${r.first_difference}`}\n`;
  return out;
}

function round(x: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}
