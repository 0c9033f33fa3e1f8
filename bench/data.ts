import { spawnSync } from 'node:child_process';
import { createWriteStream, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { availableParallelism, cpus, loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readTokenDataset, writeTokenDataset } from '../src/runtime/tokenize/dataset.js';
import type { Benchmark } from './main.js';
import type { JsonValue, StageKind } from '../src/compiler/ir.js';
import type { Artifact, StageImpl } from '../src/runtime/stage.js';
import { dataStage } from '../src/runtime/stages/data.js';
import { preprocessStage } from '../src/runtime/stages/preprocess.js';
import { tokenizerStage } from '../src/runtime/stages/tokenizer.js';
import { mulberry32 } from '../src/runtime/random.js';
import { readJsonl } from '../src/runtime/data/jsonl.js';
import { byteLevelBpe, llamaSentencePiece } from './vocab.js';

const { Tokenizer } = createRequire(import.meta.url)('tokenizers') as typeof import('tokenizers');

const WORDS = (
  'the a of to and in is it that for on with as was by be this are from at or an have not which one you all were ' +
  'water city number answer question convert sentence rewrite explain list three small large river mountain ' +
  'quickly slowly happy morning evening garden library engine market student teacher history science music ' +
  'because however although therefore example describe compare summary result method simple important'
).split(' ');

type WordSource = (next: () => number) => string;

const basicWord: WordSource = (next) => WORDS[Math.floor(next() * WORDS.length)];

/** `count` distinct made-up words of 1-4 syllables, in a seeded order (the rank order of zipfWord). */
function madeUpWords(count: number, seed: number): string[] {
  const gen = mulberry32(seed);
  const syllables = 'ba be bi bo bu ka ke ki ko ku la le li lo lu ma me mi mo mu na ne ni no nu ra re ri ro ru sa se si so su ta te ti to tu str pl an en in on th ch'.split(' ');
  const vocab: string[] = [];
  const seen = new Set<string>();
  while (vocab.length < count) {
    let w = '';
    const n = 1 + Math.floor(gen() * 4);
    for (let i = 0; i < n; i++) w += syllables[Math.floor(gen() * syllables.length)];
    if (!seen.has(w)) seen.add(w), vocab.push(w);
  }
  return vocab;
}

/** ZIPF_WORDS made-up words drawn with probability ∝ 1/rank; one word in 40 a number. */
const ZIPF_WORDS = 30000;
function zipfWord(): WordSource {
  const vocab = madeUpWords(ZIPF_WORDS, 3);
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

/**
 * The words a vocabulary is built from, most frequent first: the Alpaca template's, the basic words,
 * the Zipf words in rank order, then more made-up words (text never shows them, as most entries of a
 * real vocabulary are rare in any one text) enough to fill 150,000 entries.
 */
function vocabularyWords(): string[] {
  const template = 'Below is an instruction that describes a task paired with input provides further context Write response appropriately completes the request Instruction Input Response';
  const zipf = madeUpWords(ZIPF_WORDS, 3);
  const extra = madeUpWords(200000, 11);
  return [...new Set([...template.toLowerCase().split(' '), ...WORDS, ...zipf, ...extra])];
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


interface Rate {
  tokens: number;
  seconds: number;
  cpuSeconds: number;
  /** The library's: Tokenizer.fromString, outside `seconds` (the stage's seconds include its own load). */
  loadSeconds?: number;
}

const rateOf = (r: Rate) => ({ tokens_per_s: r.tokens / r.seconds, tokens_per_cpu_s: r.tokens / r.cpuSeconds, ...r });

/** The joined text (prompt + response) of every example of the preprocess artifact, train then eval, in batches. */
async function* joinedTexts(dir: string, batch = 2048, files = ['train.jsonl', 'eval.jsonl']): AsyncGenerator<string[]> {
  let texts: string[] = [];
  for (const file of files) {
    for await (const item of readJsonl(join(dir, file))) {
      const e = item.value as { prompt: string; response: string };
      texts.push(e.prompt + e.response);
      if (texts.length === batch) yield texts, (texts = []);
    }
  }
  if (texts.length) yield texts;
}

/** The library's encodeBatch (ids read out, as the stage needs them) over every joined text. */
async function libraryRate(json: string, dir: string, parallel: boolean): Promise<Rate> {
  const before = process.env.TOKENIZERS_PARALLELISM;
  process.env.TOKENIZERS_PARALLELISM = parallel ? 'true' : 'false';
  try {
    const l0 = performance.now();
    const tokenizer = Tokenizer.fromString(json);
    const loadSeconds = (performance.now() - l0) / 1000;
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    let tokens = 0;
    for await (const texts of joinedTexts(dir)) for (const e of await tokenizer.encodeBatch(texts, { addSpecialTokens: false })) tokens += e.getIds().length;
    const cpu = process.cpuUsage(cpu0);
    return { tokens, seconds: (performance.now() - t0) / 1000, cpuSeconds: (cpu.user + cpu.system) / 1e6, loadSeconds };
  } finally {
    if (before === undefined) delete process.env.TOKENIZERS_PARALLELISM;
    else process.env.TOKENIZERS_PARALLELISM = before;
  }
}

/** The first `n` stored train examples must be the library's ids of the same texts; throws on the first that is not. */
async function checkAgainstLibrary(json: string, preDir: string, tokDir: string, n: number): Promise<number> {
  const split = readTokenDataset(tokDir).split('train');
  const texts: string[] = [];
  for await (const batch of joinedTexts(preDir, n, ['train.jsonl'])) {
    texts.push(...batch);
    break;
  }
  const want = await Tokenizer.fromString(json).encodeBatch(texts, { addSpecialTokens: false });
  for (let i = 0; i < texts.length; i++) {
    const got = [...split.example(i).ids], ids = want[i].getIds();
    if (got.length !== ids.length || got.some((id, k) => id !== ids[k])) {
      const k = got.findIndex((id, j) => id !== ids[j]);
      throw new Error(`MISMATCH: example ${i}: ftc stored ${got.length} ids, the library gives ${ids.length}; first difference at ${k}: ${got[k]} vs ${ids[k]} (text ${JSON.stringify(texts[i].slice(0, 120))}...)`);
    }
  }
  return texts.length;
}

const sameFiles = (a: string, b: string, names: string[]) => names.every((f) => readFileSync(join(a, f)).equals(readFileSync(join(b, f))));

/** The tokenizer stage with `json` on 1 thread and on every core, and the library on the same texts. */
async function vocabularyRun(name: string, json: string, dir: string, pre: Artifact) {
  writeFileSync(join(dir, `${name}.json`), json);
  const params = { input: 'prompts', vocab: `${name}.json`, max_length: 4096, truncation: true, add_bos: false, add_eos: false, train_on_inputs: false, packing: false };
  const cores = availableParallelism();
  const one = await timed(tokenizerStage, `${name}-1`, { ...params, workers: 1 }, dir, [pre]);
  const all = await timed(tokenizerStage, `${name}-all`, { ...params, workers: cores }, dir, [pre]);
  if (Number(one.summary.truncated) || Number(one.summary.dropped)) throw new Error(`${name}: ${JSON.stringify(one.summary)}: nothing should be cut or dropped`);
  const meta = readTokenDataset(one.artifact.dir).meta;
  const width = meta.id_bytes === 2 ? 'u16' : 'u32';
  const files = ['meta.json', ...['train', 'eval'].flatMap((s) => [`${s}.ids.${width}`, `${s}.mask.bits`, `${s}.offsets.u32`])];
  if (!sameFiles(one.artifact.dir, all.artifact.dir, files)) throw new Error(`MISMATCH: ${name}: the ${cores}-thread artifact differs from the 1-thread one`);
  const checked = await checkAgainstLibrary(json, pre.dir, one.artifact.dir, 2000);
  const tokens = meta.splits.train.tokens + meta.splits.eval.tokens;
  const libraryAll = await libraryRate(json, pre.dir, true);
  const libraryOne = await libraryRate(json, pre.dir, false);
  if (libraryAll.tokens !== tokens || libraryOne.tokens !== tokens) throw new Error(`MISMATCH: ${name}: the stage stored ${tokens} tokens, the library encodes ${libraryAll.tokens}`);
  rmSync(one.artifact.dir, { recursive: true, force: true });
  rmSync(all.artifact.dir, { recursive: true, force: true });
  return {
    vocab_size: meta.vocab_size,
    checked_examples: checked,
    stage_1_thread: rateOf({ tokens, seconds: one.seconds, cpuSeconds: one.cpuSeconds }),
    [`stage_${cores}_threads`]: rateOf({ tokens, seconds: all.seconds, cpuSeconds: all.cpuSeconds }),
    library_all_cores: rateOf(libraryAll),
    library_1_thread: rateOf(libraryOne),
    load_average_after: loadavg(),
  };
}

export const benchmark: Benchmark = {
  name: 'data',
  description: 'data loading rows/s, tokenizer stage tokens/s on 32K and 150K vocabularies beside the tokenizers library, data-loading RSS',
  async run({ json, argv }) {
    const mb = Number(argv.find((a) => a.startsWith('--mb='))?.slice(5) ?? 20);
    const text = argv.find((a) => a.startsWith('--text='))?.slice(7) ?? 'zipf';
    const only = argv.find((a) => a.startsWith('--vocab='))?.slice(8);
    const builds = [['sentencepiece-32k', (w: string[]) => llamaSentencePiece(w, 32000)], ['byte-level-150k', (w: string[]) => byteLevelBpe(w, 150000)]] as const;
    if (only !== undefined && !builds.some(([name]) => name === only)) throw new Error(`--vocab=${only}: expected ${builds.map(([name]) => name).join(' or ')}`);
    if (text !== 'basic' && text !== 'zipf') throw new Error(`--text=${text}: expected zipf or basic`);
    const sentence = text === 'zipf' ? sentenceOf(zipfWord(), true) : sentenceOf(basicWord, false);
    const load = loadavg();
    const dir = join(tmpdir(), `ftc-bench-data-${process.pid}`);
    mkdirSync(dir, { recursive: true });
    const f = (n: number) => Math.round(n).toLocaleString('en-US');
    const say = (line: string) => json || process.stdout.write(line + '\n');
    try {
      const file = join(dir, 'data.jsonl');
      const generatedRows = await generate(file, mb * 1e6, sentence);
      const size = statSync(file).size;
      const data = await timed(dataStage, 'raw', { source: 'data.jsonl', on_error: 'fail', text_mode: 'line' }, dir, []);
      const pre = await timed(preprocessStage, 'prompts', { input: 'raw', template: 'alpaca', shuffle: true, dedupe: false, eval_split: 0.01, messages_field: 'messages' }, dir, [data.artifact]);
      say(`generated ${(size / 1e6).toFixed(1)} MB jsonl, ${f(generatedRows)} rows (text ${text}); load average ${load.map((l) => l.toFixed(2)).join(' ')}, ${cpus().length} CPUs`);
      say(`data stage        ${f(generatedRows / data.seconds)} rows/s  ${(size / 1e6 / data.seconds).toFixed(1)} MB/s  (${data.seconds.toFixed(1)} s, ${data.cpuSeconds.toFixed(1)} s CPU)`);
      say(`preprocess stage  ${f(generatedRows / pre.seconds)} rows/s  (${pre.seconds.toFixed(1)} s, ${pre.cpuSeconds.toFixed(1)} s CPU)`);
      // What `workers = auto` weighs (pool.ts BYTES_PER_WORKER): the preprocessed examples, prompt template included.
      const tokenizerInput = ['train.jsonl', 'eval.jsonl'].reduce((sum, f) => sum + statSync(join(pre.artifact.dir, f)).size, 0);
      say(`tokenizer input   ${(tokenizerInput / 1e6).toFixed(1)} MB of preprocessed examples (what workers = auto weighs)`);
      const words = vocabularyWords();
      const vocabularies: Record<string, Awaited<ReturnType<typeof vocabularyRun>>> = {};
      for (const [name, build] of builds.filter(([name]) => only === undefined || name === only)) {
        const v = (vocabularies[name] = await vocabularyRun(name, build(words), dir, pre.artifact));
        say(`tokenizer ${name} (${f(v.vocab_size)} entries; ids of the first ${f(v.checked_examples)} examples equal the library's; 1 and ${availableParallelism()} threads wrote the same bytes; the stage's times include loading the tokenizer)`);
        for (const [k, r] of Object.entries(v)) {
          if (typeof r !== 'object' || !('tokens_per_s' in r)) continue;
          const load = r.loadSeconds === undefined ? '' : `; not counted: ${r.loadSeconds.toFixed(2)} s to load the tokenizer`;
          say(`  ${k.replace(/_/g, ' ').padEnd(20)} ${f(r.tokens_per_s).padStart(11)} tokens/s  ${f(r.tokens_per_cpu_s).padStart(11)} tokens per CPU-second  (${f(r.tokens)} tokens, ${r.seconds.toFixed(1)} s, ${r.cpuSeconds.toFixed(1)} s CPU${load})`);
        }
        say(`  load average after: ${v.load_average_after.map((l) => l.toFixed(2)).join(' ')}`);
      }
      const loading = dataLoadingRss(dir);
      say(`data loading      peak RSS ${Object.entries(loading).map(([k, v]) => `${v.toFixed(0)} MB ${k === 'baseline' ? 'loading the modules only' : `at ${k} tokens`}`).join(', ')} (one epoch of batches, read by offset; a child process per size, VmHWM)`);
      say(`load average ${load.map((l) => l.toFixed(2)).join(' ')} at start, ${loadavg().map((l) => l.toFixed(2)).join(' ')} at end`);
      if (json) {
        const figures = {
          file_mb: size / 1e6,
          tokenizer_input_mb: tokenizerInput / 1e6,
          rows: generatedRows,
          data_rows_per_s: generatedRows / data.seconds,
          data_mb_per_s: size / 1e6 / data.seconds,
          preprocess_rows_per_s: generatedRows / pre.seconds,
          tokenizer: vocabularies,
          loading_peak_rss_mb: loading,
          text,
          cpus: cpus().length,
          load_average: { start: load, end: loadavg() },
        };
        process.stdout.write(JSON.stringify({ benchmark: 'data', ...figures }) + '\n');
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
};

/**
 * Peak RSS (MB) of a process that reads one epoch of batches from datasets of 1M and 10M tokens, and
 * of one that only loads the same modules (baseline). The peak is VmHWM of /proc/self/status where
 * there is one: getrusage's maxRSS (resourceUsage().maxRSS) keeps the high-water mark of the
 * process before exec, so a child of this bench, which by then holds two large tokenizers, would
 * report the bench's own peak (750 MB seen here) instead of its own.
 */
function dataLoadingRss(dir: string): Record<string, number> {
  const out: Record<string, number> = {};
  const src = join(dirname(fileURLToPath(import.meta.url)), '..', 'src');
  const peak = `(() => {
    try {
      const m = /VmHWM:\\s+(\\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'));
      if (m) return Number(m[1]);
    } catch {}
    return process.resourceUsage().maxRSS;
  })()`;
  const child = (body: string): number => {
    const script = `
      import { readFileSync } from 'node:fs';
      import { readTokenDataset } from ${JSON.stringify(join(src, 'runtime/tokenize/dataset.js'))};
      import { BatchPlan } from ${JSON.stringify(join(src, 'runtime/train/batches.js'))};
      ${body}
      console.log(${peak});`;
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`data loading bench: ${r.stderr}`);
    return Number(r.stdout.trim()) / 1024;
  };
  out.baseline = child('void readTokenDataset, BatchPlan;');
  for (const tokens of [1e6, 1e7]) {
    const ds = join(dir, `tokens-${tokens}`);
    mkdirSync(ds, { recursive: true });
    const next = mulberry32(7);
    const examples = Array.from({ length: tokens / 250 }, () => {
      const ids = Array.from({ length: 250 }, () => Math.floor(next() * 32000));
      return { ids, labels: ids.map((id, i) => (i < 100 ? -100 : id)) };
    });
    writeTokenDataset(ds, { vocab_size: 32000, bos_id: 1, eos_id: 2, pad_id: 2, max_length: 512, packed: false, train_on_inputs: false, tokenizer_sha256: '' }, { train: examples });
    out[tokens.toExponential(0)] = child(`
      const split = readTokenDataset(${JSON.stringify(ds)}).split('train');
      const plan = new BatchPlan(split, { batchSize: 8, gradAccum: 1, seed: 1, padId: 2 });
      let seen = 0;
      for (let s = 0; s < plan.stepsPerEpoch; s++) for (const b of plan.nextStep().micros) seen += b.inputTokens;
      if (seen !== ${tokens}) throw new Error('read ' + seen + ' tokens');`);
    rmSync(ds, { recursive: true, force: true });
  }
  return out;
}
