/**
 * `npm run bench -- data [--mb=100] [--text=basic|zipf] [--json]`: throughput of the data stages on a
 * generated Alpaca-style jsonl of about --mb megabytes (default 100, written to a temp dir and removed):
 * data stage rows/s and MB/s, preprocess rows/s, tokenizer stage tokens/s. Wall time and the
 * process's CPU time (all threads, so the tokenizers library's Rust pool counts) are both
 * reported: on a busy machine tokens per CPU-second is the steadier figure. The load average is
 * printed with them.
 *
 * --text=basic draws from ~90 common English words, so the tokenizer's word cache hits almost
 * always; --text=zipf draws from 30,000 made-up words by Zipf's law (plus numbers), closer to the
 * long tail of real text. An encode-only line compares the library's encodeBatch with the word
 * cache on the same texts, without the stage's reading, assembling and writing.
 *
 * Data loading: a child process reads one epoch of batches (batch 8, the trainer's BatchPlan) from
 * generated token datasets of 1M and 10M tokens; its peak RSS should not grow with the dataset,
 * since examples are read from the files by offset.
 */
import { spawnSync } from 'node:child_process';
import { createWriteStream, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { cpus, loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeTokenDataset } from '../src/runtime/tokenize/dataset.js';
import type { Benchmark } from './main.js';
import type { JsonValue, StageKind } from '../src/compiler/ir.js';
import type { Artifact, StageImpl } from '../src/runtime/stage.js';
import { dataStage } from '../src/runtime/stages/data.js';
import { preprocessStage } from '../src/runtime/stages/preprocess.js';
import { tokenizerStage } from '../src/runtime/stages/tokenizer.js';
import { mulberry32 } from '../src/runtime/random.js';
import { trainBpeTokenizer } from '../src/runtime/tokenize/bpe.js';
import { idEncoder, libraryEncoder, type IdEncoder } from '../src/runtime/tokenize/word-cache.js';
import { readJsonl } from '../src/runtime/data/jsonl.js';

const { Tokenizer } = createRequire(import.meta.url)('tokenizers') as typeof import('tokenizers');

const WORDS = (
  'the a of to and in is it that for on with as was by be this are from at or an have not which one you all were ' +
  'water city number answer question convert sentence rewrite explain list three small large river mountain ' +
  'quickly slowly happy morning evening garden library engine market student teacher history science music ' +
  'because however although therefore example describe compare summary result method simple important'
).split(' ');

type WordSource = (next: () => number) => string;

const basicWord: WordSource = (next) => WORDS[Math.floor(next() * WORDS.length)];

/** 30,000 made-up words of 1-4 syllables, drawn with probability ∝ 1/rank; one word in 40 a number. */
function zipfWord(): WordSource {
  const gen = mulberry32(3);
  const syllables = 'ba be bi bo bu ka ke ki ko ku la le li lo lu ma me mi mo mu na ne ni no nu ra re ri ro ru sa se si so su ta te ti to tu str pl an en in on th ch'.split(' ');
  const vocab: string[] = [];
  const seen = new Set<string>();
  while (vocab.length < 30000) {
    let w = '';
    const n = 1 + Math.floor(gen() * 4);
    for (let i = 0; i < n; i++) w += syllables[Math.floor(gen() * syllables.length)];
    if (!seen.has(w)) seen.add(w), vocab.push(w);
  }
  const cdf = new Float64Array(vocab.length);
  let total = 0;
  for (let i = 0; i < vocab.length; i++) cdf[i] = total += 1 / (i + 1);
  return (next) => {
    if (next() < 0.025) return String(Math.floor(next() * 10000));
    const x = next() * total;
    let lo = 0, hi = cdf.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (cdf[mid] < x) lo = mid + 1;
      else hi = mid;
    }
    return vocab[lo];
  };
}

/** Sentences of `word`s; with commas, one word in ~16 is followed by one. */
function sentenceOf(word: WordSource, commas: boolean) {
  return (next: () => number, words: number): string => {
    const out: string[] = [];
    for (let i = 0; i < words; i++) out.push(word(next) + (commas && next() < 0.06 ? ',' : ''));
    const s = out.join(' ').replace(/,$/, '');
    return s[0].toUpperCase() + s.slice(1) + '.';
  };
}

async function generate(file: string, bytes: number, sentence: (next: () => number, words: number) => string): Promise<number> {
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

/**
 * The library's encodeBatch against the word cache on the same texts (the first 40,000 prompt and
 * response texts of the train split, batches of 4,096), each from a fresh tokenizer. The totals
 * must agree: the cache gives the library's ids.
 */
async function compareEncoders(trainFile: string, tokenizerJson: string) {
  const texts: string[] = [];
  for await (const item of readJsonl(trainFile)) {
    const e = item.value as { prompt: string; response: string };
    texts.push(e.prompt, e.response);
    if (texts.length >= 40000) break;
  }
  const measure = async (encoder: IdEncoder) => {
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    let tokens = 0;
    for (let i = 0; i < texts.length; i += 4096) for (const ids of await encoder.encodeBatch(texts.slice(i, i + 4096))) tokens += ids.length;
    const cpu = process.cpuUsage(cpu0);
    return { tokens, seconds: (performance.now() - t0) / 1000, cpuSeconds: (cpu.user + cpu.system) / 1e6 };
  };
  const library = await measure(libraryEncoder(Tokenizer.fromString(tokenizerJson)));
  const wordCache = await measure(idEncoder(Tokenizer.fromString(tokenizerJson), tokenizerJson));
  if (library.tokens !== wordCache.tokens) throw new Error(`word cache gave ${wordCache.tokens} tokens, the library ${library.tokens}`);
  return { texts: texts.length, library, word_cache: wordCache };
}

export const benchmark: Benchmark = {
  name: 'data',
  description: 'data loading rows/s and tokenization tokens/s on a generated jsonl',
  async run({ json, argv }) {
    const mb = Number(argv.find((a) => a.startsWith('--mb='))?.slice(5) ?? 100);
    const text = argv.find((a) => a.startsWith('--text='))?.slice(7) ?? 'basic';
    if (text !== 'basic' && text !== 'zipf') throw new Error(`--text=${text}: expected basic or zipf`);
    const sentence = text === 'zipf' ? sentenceOf(zipfWord(), true) : sentenceOf(basicWord, false);
    const load = loadavg();
    const dir = join(tmpdir(), `ftc-bench-data-${process.pid}`);
    mkdirSync(dir, { recursive: true });
    try {
      const file = join(dir, 'data.jsonl');
      const generatedRows = await generate(file, mb * 1e6, sentence);
      const size = statSync(file).size;
      const data = await timed(dataStage, 'raw', { source: 'data.jsonl', on_error: 'fail', text_mode: 'line' }, dir, []);
      const pre = await timed(preprocessStage, 'prompts', { input: 'raw', template: 'alpaca', shuffle: true, dedupe: false, eval_split: 0.01, messages_field: 'messages' }, dir, [data.artifact]);
      // A 4096-token byte-level BPE trained on a slice of the data, as `train {}` would make.
      const next = mulberry32(2);
      const sample = Array.from({ length: 3000 }, () => sentence(next, 40));
      writeFileSync(join(dir, 'tokenizer.json'), trainBpeTokenizer(sample, { vocabSize: 4096 }));
      const tok = await timed(tokenizerStage, 'tok', { input: 'prompts', vocab: 'tokenizer.json', max_length: 512, truncation: true, add_bos: true, add_eos: true, train_on_inputs: false, packing: false }, dir, [pre.artifact]);
      const tokens = Number(tok.summary.tokens) + Number((await import('../src/runtime/tokenize/dataset.js')).readTokenDataset(tok.artifact.dir).meta.splits.eval.tokens);
      const loading = dataLoadingRss(dir);
      const encodeOnly = await compareEncoders(join(pre.artifact.dir, 'train.jsonl'), readFileSync(join(dir, 'tokenizer.json'), 'utf8'));
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
        encode_only: encodeOnly,
        loading_peak_rss_mb: loading,
        text,
        load_average: load,
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
          ...(['library', 'word_cache'] as const).map((k) => {
            const e = encodeOnly[k];
            return `encode only, ${k.padEnd(10)} ${f(e.tokens / e.seconds)} tokens/s  ${f(e.tokens / e.cpuSeconds)} tokens per CPU-second  (${f(encodeOnly.texts)} texts, ${e.seconds.toFixed(1)} s, ${e.cpuSeconds.toFixed(1)} s CPU)`;
          }),
          `data loading      peak RSS ${Object.entries(loading).map(([k, v]) => `${v.toFixed(0)} MB at ${k} tokens`).join(', ')} (one epoch of batches, read by offset)`,
          `text ${text}; load average ${load.map((l) => l.toFixed(2)).join(' ')} at start, ${loadavg().map((l) => l.toFixed(2)).join(' ')} at end, ${cpus().length} CPUs`,
        ].join('\n') + '\n',
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
};

/** Peak RSS (MB) of a process that reads one epoch of batches from datasets of 1M and 10M tokens. */
function dataLoadingRss(dir: string): Record<string, number> {
  const out: Record<string, number> = {};
  const src = join(dirname(fileURLToPath(import.meta.url)), '..', 'src');
  for (const tokens of [1e6, 1e7]) {
    const ds = join(dir, `tokens-${tokens}`);
    mkdirSync(ds, { recursive: true });
    const next = mulberry32(7);
    const examples = Array.from({ length: tokens / 250 }, () => {
      const ids = Array.from({ length: 250 }, () => Math.floor(next() * 32000));
      return { ids, labels: ids.map((id, i) => (i < 100 ? -100 : id)) };
    });
    writeTokenDataset(ds, { vocab_size: 32000, bos_id: 1, eos_id: 2, pad_id: 2, max_length: 512, packed: false, train_on_inputs: false, tokenizer_sha256: '' }, { train: examples });
    const script = `
      import { readTokenDataset } from ${JSON.stringify(join(src, 'runtime/tokenize/dataset.js'))};
      import { BatchPlan } from ${JSON.stringify(join(src, 'runtime/train/batches.js'))};
      const split = readTokenDataset(${JSON.stringify(ds)}).split('train');
      const plan = new BatchPlan(split, { batchSize: 8, gradAccum: 1, seed: 1, padId: 2 });
      let seen = 0;
      for (let s = 0; s < plan.stepsPerEpoch; s++) for (const b of plan.nextStep().micros) seen += b.inputTokens;
      if (seen !== ${tokens}) throw new Error('read ' + seen + ' tokens');
      console.log(process.resourceUsage().maxRSS);`;
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`data loading bench: ${r.stderr}`);
    out[tokens.toExponential(0)] = Number(r.stdout.trim()) / 1024;
    rmSync(ds, { recursive: true, force: true });
  }
  return out;
}
