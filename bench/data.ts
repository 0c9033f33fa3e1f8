/**
 * `npm run bench -- data [--mb=100] [--json]`: throughput of the data stages on a generated
 * Alpaca-style jsonl of about --mb megabytes (default 100, written to a temp dir and removed):
 * data stage rows/s and MB/s, preprocess rows/s, tokenizer stage tokens/s. Wall time and the
 * process's CPU time (all threads, so the tokenizers library's Rust pool counts) are both
 * reported: on a busy machine tokens per CPU-second is the steadier figure.
 */
import { createWriteStream, mkdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Benchmark } from './main.js';
import type { JsonValue, StageKind } from '../src/compiler/ir.js';
import type { Artifact, StageImpl } from '../src/runtime/stage.js';
import { dataStage } from '../src/runtime/stages/data.js';
import { preprocessStage } from '../src/runtime/stages/preprocess.js';
import { tokenizerStage } from '../src/runtime/stages/tokenizer.js';
import { mulberry32 } from '../src/runtime/preprocess/shuffle.js';
import { trainBpeTokenizer } from '../src/runtime/tokenize/bpe.js';

const WORDS = (
  'the a of to and in is it that for on with as was by be this are from at or an have not which one you all were ' +
  'water city number answer question convert sentence rewrite explain list three small large river mountain ' +
  'quickly slowly happy morning evening garden library engine market student teacher history science music ' +
  'because however although therefore example describe compare summary result method simple important'
).split(' ');

function sentence(next: () => number, words: number): string {
  const out: string[] = [];
  for (let i = 0; i < words; i++) out.push(WORDS[Math.floor(next() * WORDS.length)]);
  const s = out.join(' ');
  return s[0].toUpperCase() + s.slice(1) + '.';
}

async function generate(file: string, bytes: number): Promise<number> {
  const next = mulberry32(1);
  const out = createWriteStream(file);
  let written = 0, rows = 0;
  while (written < bytes) {
    const r = { instruction: sentence(next, 6 + Math.floor(next() * 10)), input: next() < 0.35 ? sentence(next, 10 + Math.floor(next() * 30)) : '', output: sentence(next, 20 + Math.floor(next() * 60)) };
    const line = JSON.stringify(r) + '\n';
    written += line.length;
    rows++;
    if (!out.write(line)) await new Promise<void>((res) => out.once('drain', () => res()));
  }
  await new Promise<void>((res) => out.end(() => res()));
  return rows;
}

async function timed(impl: StageImpl, name: string, params: { [k: string]: JsonValue }, dir: string, inputs: Artifact[]) {
  const outDir = join(dir, name);
  mkdirSync(outDir);
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const summary = await impl.run({
    stage: { name, kind: impl.kind as StageKind, key: name, inputs: inputs.map((a) => a.stage), params, version: impl.version, fileHashes: {}, upstreamKeys: {} },
    pipeline: { file: join(dir, 'bench.ft'), dir, name: 'bench', seed: 42, settings: {} },
    inputs: Object.fromEntries(inputs.map((a) => [a.stage, a])),
    outDir,
    log: { info: () => {}, warn: () => {}, progress: () => ({ update: () => {}, done: () => {} }) },
    options: {},
  });
  const seconds = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const artifact: Artifact = { stage: name, kind: impl.kind, key: name, dir: outDir, summary };
  return { artifact, summary, seconds, cpuSeconds: (cpu.user + cpu.system) / 1e6 };
}

export const benchmark: Benchmark = {
  name: 'data',
  description: 'data loading rows/s and tokenization tokens/s on a generated jsonl',
  async run({ json, argv }) {
    const mb = Number(argv.find((a) => a.startsWith('--mb='))?.slice(5) ?? 100);
    const dir = join(tmpdir(), `ftc-bench-data-${process.pid}`);
    mkdirSync(dir, { recursive: true });
    try {
      const file = join(dir, 'data.jsonl');
      const generatedRows = await generate(file, mb * 1e6);
      const size = statSync(file).size;
      const data = await timed(dataStage, 'raw', { source: 'data.jsonl', on_error: 'fail', text_mode: 'line' }, dir, []);
      const pre = await timed(preprocessStage, 'prompts', { input: 'raw', template: 'alpaca', shuffle: true, dedupe: false, eval_split: 0.01, messages_field: 'messages' }, dir, [data.artifact]);
      // A 4096-token byte-level BPE trained on a slice of the data, as `train {}` would make.
      const next = mulberry32(2);
      const sample = Array.from({ length: 3000 }, () => sentence(next, 40));
      writeFileSync(join(dir, 'tokenizer.json'), trainBpeTokenizer(sample, { vocabSize: 4096 }));
      const tok = await timed(tokenizerStage, 'tok', { input: 'prompts', vocab: 'tokenizer.json', max_length: 512, truncation: true, add_bos: true, add_eos: true, train_on_inputs: false, packing: false }, dir, [pre.artifact]);
      const tokens = Number(tok.summary.tokens) + Number((await import('../src/runtime/tokenize/dataset.js')).readTokenDataset(tok.artifact.dir).meta.splits.eval.tokens);
      const figures = {
        file_mb: size / 1e6,
        rows: generatedRows,
        data_rows_per_s: generatedRows / data.seconds,
        data_mb_per_s: size / 1e6 / data.seconds,
        preprocess_rows_per_s: generatedRows / pre.seconds,
        tokens,
        tokenize_tokens_per_s: tokens / tok.seconds,
        tokenize_tokens_per_cpu_s: tokens / tok.cpuSeconds,
        seconds: { data: data.seconds, preprocess: pre.seconds, tokenizer: tok.seconds },
        cpu_seconds: { data: data.cpuSeconds, preprocess: pre.cpuSeconds, tokenizer: tok.cpuSeconds },
      };
      if (json) {
        process.stdout.write(JSON.stringify({ benchmark: 'data', ...figures }) + '\n');
        return;
      }
      const f = (n: number) => Math.round(n).toLocaleString('en-US');
      process.stdout.write(
        [
          `generated ${figures.file_mb.toFixed(1)} MB jsonl, ${f(generatedRows)} rows`,
          `data stage        ${f(figures.data_rows_per_s)} rows/s  ${figures.data_mb_per_s.toFixed(1)} MB/s  (${data.seconds.toFixed(1)} s, ${data.cpuSeconds.toFixed(1)} s CPU)`,
          `preprocess stage  ${f(figures.preprocess_rows_per_s)} rows/s  (${pre.seconds.toFixed(1)} s, ${pre.cpuSeconds.toFixed(1)} s CPU)`,
          `tokenizer stage   ${f(figures.tokenize_tokens_per_s)} tokens/s  ${f(figures.tokenize_tokens_per_cpu_s)} tokens per CPU-second  (${f(tokens)} tokens, ${tok.seconds.toFixed(1)} s, ${tok.cpuSeconds.toFixed(1)} s CPU)`,
        ].join('\n') + '\n',
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
};
