import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { JsonValue } from '../../../src/compiler/ir.js';
import type { Artifact } from '../../../src/runtime/stage.js';
import { dataStage } from '../../../src/runtime/stages/data.js';
import { preprocessStage } from '../../../src/runtime/stages/preprocess.js';
import { tokenizerStage } from '../../../src/runtime/stages/tokenizer.js';
import { trainBpeTokenizer } from '../../../src/runtime/tokenize/bpe.js';
import { BYTES_PER_WORKER, resolveTokenizerWorkers } from '../../../src/runtime/tokenize/pool.js';
import { repoRoot, tempDir } from '../../helpers.js';
import { readJsonlFile, runStage } from '../stages/stage-context.js';

/**
 * Tokenizing on N worker threads must write the very bytes one thread writes: same ids, masks,
 * offsets, segments and meta.json, same counts, and the same error for a bad row.
 */

const ROOT = repoRoot();

async function prompts(source: string, params: { [k: string]: JsonValue }): Promise<Artifact> {
  const raw = await runStage(dataStage, 'raw', { source, on_error: 'fail', text_mode: 'line' }, { pipelineDir: ROOT });
  const pre = await runStage(preprocessStage, 'prompts', { input: 'raw', shuffle: true, dedupe: false, eval_split: 0.1, messages_field: 'messages', ...params }, { inputs: [raw.artifact], pipelineDir: ROOT });
  return pre.artifact;
}

/** A byte-level BPE trained on the examples' texts (the word-cache route), written into `dir`. */
function byteLevel(dir: string, input: Artifact, specialTokens: string[] = []): string {
  const texts = (readJsonlFile(join(input.dir, 'train.jsonl')) as Array<{ prompt: string; response: string }>).map((e) => e.prompt + e.response);
  writeFileSync(join(dir, 'bl.json'), trainBpeTokenizer(texts, { vocabSize: 700, specialTokens }));
  return 'bl.json';
}

/**
 * A Llama-style SentencePiece BPE (Metaspace, byte_fallback; no word cache: the library encodes the
 * joined text and its offsets mask it): every character of the data a piece, a few ▁-words merged.
 */
function sentencePiece(dir: string, input: Artifact): string {
  const chars = new Set<string>();
  for (const f of ['train.jsonl', 'eval.jsonl']) for (const ch of readFileSync(join(input.dir, f), 'utf8')) if (ch !== '\n' && ch !== ' ') chars.add(ch);
  const vocab: Record<string, number> = { '<unk>': 0, '<s>': 1, '</s>': 2 };
  for (let b = 0; b < 256; b++) vocab[`<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`] = 3 + b;
  const add = (p: string) => (vocab[p] ??= Object.keys(vocab).length);
  add('▁');
  // Only characters outside ASCII control and the newline (byte fallback covers those).
  for (const ch of [...chars].sort()) if (ch.codePointAt(0)! > 0x20) add(ch);
  const merges: string[] = [];
  for (const word of ['the', 'of', 'and', 'to', 'Response', 'Instruction']) {
    let piece = '▁';
    for (const ch of word) {
      merges.push(`${piece} ${ch}`);
      add((piece += ch));
    }
  }
  const json = {
    version: '1.0', truncation: null, padding: null,
    added_tokens: ['<unk>', '<s>', '</s>'].map((content, id) => ({ id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true })),
    normalizer: null,
    pre_tokenizer: { type: 'Metaspace', replacement: '▁', prepend_scheme: 'first', split: false },
    post_processor: {
      type: 'TemplateProcessing',
      single: [{ SpecialToken: { id: '<s>', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }],
      pair: [{ SpecialToken: { id: '<s>', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }, { Sequence: { id: 'B', type_id: 1 } }],
      special_tokens: { '<s>': { id: '<s>', ids: [1], tokens: ['<s>'] } },
    },
    decoder: null,
    model: { type: 'BPE', dropout: null, unk_token: '<unk>', continuing_subword_prefix: null, end_of_word_suffix: null, fuse_unk: true, byte_fallback: true, ignore_merges: false, vocab, merges },
  };
  writeFileSync(join(dir, 'sp.json'), JSON.stringify(json));
  return 'sp.json';
}

async function tokenize(input: Artifact, dir: string, params: { [k: string]: JsonValue }) {
  const infos: string[] = [];
  const warnings: string[] = [];
  const { summary, artifact } = await runStage(tokenizerStage, 'tok', { input: 'prompts', ...params }, { inputs: [input], pipelineDir: dir, infos, warnings });
  const files = Object.fromEntries(readdirSync(artifact.dir).sort().map((f) => [f, readFileSync(join(artifact.dir, f))]));
  return { summary, files, infos, warnings };
}

/** Tokenizes with 1 and with 3 threads and asserts the artifacts are the same bytes. */
async function sameOnThreads(input: Artifact, dir: string, params: { [k: string]: JsonValue }) {
  const one = await tokenize(input, dir, { ...params, workers: 1 });
  const three = await tokenize(input, dir, { ...params, workers: 3 });
  assert.deepEqual(one.infos, []);
  assert.ok(three.infos.includes('tokenizing on 3 threads'), three.infos.join('\n'));
  assert.deepEqual(Object.keys(three.files), Object.keys(one.files));
  for (const [name, bytes] of Object.entries(one.files)) assert.ok(bytes.equals(three.files[name]!), `${name} differs between 1 and 3 threads`);
  assert.deepEqual(three.summary, one.summary);
  assert.deepEqual(three.warnings, one.warnings);
  return one;
}

test('example data: byte-level BPE (word cache) on 3 threads writes what 1 thread writes, packed or not, truncated or not', async () => {
  const input = await prompts('data/alpaca_sample.json', { template: 'alpaca' });
  const dir = tempDir();
  const vocab = byteLevel(dir, input);
  const plain = await sameOnThreads(input, dir, { vocab, max_length: 512 });
  assert.ok(Number(plain.summary.rows) > 200, JSON.stringify(plain.summary));
  // Short max_length: truncation and drops are counted the same (and there are some to count).
  const short = await sameOnThreads(input, dir, { vocab, max_length: 48 });
  assert.ok(Number(short.summary.truncated) > 0 && Number(short.summary.dropped) > 0, JSON.stringify(short.summary));
  await sameOnThreads(input, dir, { vocab, max_length: 48, truncation: false, add_bos: false });
  await sameOnThreads(input, dir, { vocab, max_length: 256, packing: true, train_on_inputs: true });
});

test('example data: SentencePiece byte_fallback (library encode, offset masking) on 3 threads writes what 1 thread writes', async () => {
  const input = await prompts('data/alpaca_sample.json', { template: 'alpaca' });
  const dir = tempDir();
  const vocab = sentencePiece(dir, input);
  const r = await sameOnThreads(input, dir, { vocab, max_length: 160 });
  assert.ok(Number(r.summary.truncated) > 0, JSON.stringify(r.summary));
});

test('chat data: every assistant turn, packed, on 3 threads writes what 1 thread writes', async () => {
  const params = { template: 'chat', chat_template: 'data/chat_tokenizer_config.json' } as const;
  const dir = tempDir();
  for (const train_on of ['all_turns', 'last_turn'] as const) {
    const input = await prompts('data/chat_sample.jsonl', { ...params, train_on });
    // The rendered texts hold <s> and </s>: the word cache sends them to the library whole.
    const vocab = byteLevel(dir, input);
    await sameOnThreads(input, dir, { vocab, max_length: 256, add_eos: false, packing: true });
    await sameOnThreads(input, dir, { vocab, max_length: 64, add_bos: true });
  }
});

/** A preprocess artifact written by hand: `rows` lines of train.jsonl, some replaced. */
function handWritten(rows: number, replace: Record<number, string>): Artifact {
  const dir = tempDir();
  const lines = Array.from({ length: rows }, (_, i) => replace[i + 1] ?? JSON.stringify({ prompt: `Question ${i}: why? `, response: `Because ${i}.` }));
  writeFileSync(join(dir, 'train.jsonl'), lines.join('\n') + '\n');
  writeFileSync(join(dir, 'eval.jsonl'), '');
  return { stage: 'prompts', kind: 'preprocess', key: 'k', dir, summary: {} };
}

test('a bad row fails the same way on 3 threads as on 1: the first bad row in file order, with its line number', async () => {
  const dir = tempDir();
  writeFileSync(join(dir, 'bl.json'), trainBpeTokenizer(['Question why Because'], { vocabSize: 300 }));
  // Line 37 is blank (not a row); 45 and 52 are bad, in different batches of different threads.
  const input = handWritten(60, { 37: '', 45: '{"prompt": "x", "response": ', 52: '{"prompt": 3}' });
  const file = join(input.dir, 'train.jsonl');
  let expected = '';
  try {
    JSON.parse('{"prompt": "x", "response": ');
  } catch (e) {
    expected = `${file}:45: invalid JSON: ${(e as Error).message}`;
  }
  for (const workers of [1, 3]) {
    await assert.rejects(runStage(tokenizerStage, 'tok', { input: 'prompts', vocab: 'bl.json', workers }, { inputs: [input], pipelineDir: dir }), (e: unknown) => {
      assert.ok(e instanceof Error && e.constructor === Error, String(e));
      assert.equal(e.message, expected);
      return true;
    });
  }
  const shape = handWritten(60, { 52: '{"prompt": 3}' });
  for (const workers of [1, 3]) {
    await assert.rejects(
      runStage(tokenizerStage, 'tok', { input: 'prompts', vocab: 'bl.json', workers }, { inputs: [shape], pipelineDir: dir }),
      { message: `${join(shape.dir, 'train.jsonl')}:52: not an example (a prompt and a response string, optional turns)` },
    );
  }
  // The blank line alone is no row: both succeed with the same bytes.
  await sameOnThreads(handWritten(60, { 37: '' }), dir, { vocab: 'bl.json' });
});

test('workers = auto: one thread below BYTES_PER_WORKER of input, then a thread per BYTES_PER_WORKER up to the cores, with the word cache only', () => {
  assert.equal(resolveTokenizerWorkers('auto', 40_000, true, 8), 1);
  assert.equal(resolveTokenizerWorkers(undefined, 2 * BYTES_PER_WORKER - 1, true, 8), 1);
  assert.equal(resolveTokenizerWorkers('auto', 3 * BYTES_PER_WORKER, true, 8), 3);
  assert.equal(resolveTokenizerWorkers('auto', 100 * BYTES_PER_WORKER, true, 8), 8);
  // Without the word cache the library's own pool already uses every core.
  assert.equal(resolveTokenizerWorkers('auto', 100 * BYTES_PER_WORKER, false, 8), 1);
  assert.equal(resolveTokenizerWorkers(4, 10, false, 2), 4); // a number is taken as given
  assert.equal(resolveTokenizerWorkers(1, 100 * BYTES_PER_WORKER, true, 8), 1);
});

test('the stage schema documents workers and keeps it out of the cache key', async () => {
  const { schemas } = await import('../../../src/schema/index.js');
  const w = schemas.tokenizer!.properties.workers!;
  assert.equal(w['x-cache'], false);
  assert.equal(w.default, 'auto');
});
