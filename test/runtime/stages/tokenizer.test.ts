import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { JsonValue } from '../../../src/compiler/ir.js';
import type { Artifact } from '../../../src/runtime/stage.js';
import { tokenizerStage } from '../../../src/runtime/stages/tokenizer.js';
import { readTokenDataset } from '../../../src/runtime/tokenize/dataset.js';
import { FtcError } from '../../../src/errors.js';
import { tempDir } from '../../helpers.js';
import { runStage } from './stage-context.js';

const require = createRequire(import.meta.url);
const { Tokenizer } = require('tokenizers') as typeof import('tokenizers');

/**
 * A word-level tokenizer.json written by hand, so that every expected id below is known
 * without running any tokenizer: words split on whitespace, <unk> 0, <s> 1, </s> 2, <pad> 3.
 */
const WORDS = ['<unk>', '<s>', '</s>', '<pad>', 'a', 'b', 'c', 'd', 'e', 'f'];
function wordTokenizer(dir: string, extra: Record<string, unknown> = {}): string {
  const json = {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: WORDS.slice(0, 4).map((content, id) => ({ id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true })),
    normalizer: null,
    pre_tokenizer: { type: 'WhitespaceSplit' },
    // Llama's: BOS before the text, which is what transformers' tokenizer(text) adds here.
    post_processor: {
      type: 'TemplateProcessing',
      single: [{ SpecialToken: { id: '<s>', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }],
      pair: [{ SpecialToken: { id: '<s>', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }, { Sequence: { id: 'B', type_id: 1 } }],
      special_tokens: { '<s>': { id: '<s>', ids: [1], tokens: ['<s>'] } },
    },
    decoder: null,
    ...extra,
    model: { type: 'WordLevel', vocab: Object.fromEntries(WORDS.map((w, i) => [w, i])), unk_token: '<unk>' },
  };
  mkdirSync(join(dir, 'tok'), { recursive: true });
  writeFileSync(join(dir, 'tok/tokenizer.json'), JSON.stringify(json));
  return 'tok/tokenizer.json';
}

function prompts(train: Array<[string, string]>, evalSet: Array<[string, string]> = []): Artifact {
  const dir = tempDir();
  // Prompt and response are encoded joined: the prompt ends with the space between them, as an Alpaca prompt ends with a newline.
  const lines = (xs: Array<[string, string]>) => xs.map(([prompt, response]) => JSON.stringify({ prompt: prompt && !/\s$/.test(prompt) && !/^\s/.test(response) ? prompt + ' ' : prompt, response }) + '\n').join('');
  writeFileSync(join(dir, 'train.jsonl'), lines(train));
  writeFileSync(join(dir, 'eval.jsonl'), lines(evalSet));
  return { stage: 'prompts', kind: 'preprocess', key: 'k', dir, summary: {} };
}

async function tokenize(params: { [k: string]: JsonValue }, input: Artifact, dir = tempDir(), extra: Record<string, unknown> = {}) {
  const vocab = wordTokenizer(dir, extra);
  const { summary, artifact } = await runStage(tokenizerStage, 'tok', { input: 'prompts', vocab, ...params }, { inputs: [input], pipelineDir: dir });
  const ds = readTokenDataset(artifact.dir);
  const rows = (split: string) => Array.from({ length: ds.split(split).count }, (_, i) => {
    const e = ds.split(split).example(i);
    return { ids: [...e.ids], labels: [...e.labels], segments: e.segments };
  });
  return { summary, ds, rows, artifact, vocabFile: join(dir, vocab) };
}

const M = -100;

test('BOS + prompt + response + EOS; prompt tokens masked with -100', async () => {
  const { summary, rows, ds } = await tokenize({}, prompts([['a b', 'c d']], [['e', 'f']]));
  assert.deepEqual(rows('train'), [{ ids: [1, 4, 5, 6, 7, 2], labels: [M, M, M, 6, 7, 2], segments: [0] }]);
  assert.deepEqual(rows('eval'), [{ ids: [1, 8, 9, 2], labels: [M, M, 9, 2], segments: [0] }]);
  assert.deepEqual(summary, { rows: 1, tokens: 6, eval_rows: 1, truncated: 0, dropped: 0 });
  assert.equal(ds.meta.bos_id, 1);
  assert.equal(ds.meta.eos_id, 2);
  assert.equal(ds.meta.pad_id, 3);
  assert.equal(ds.meta.vocab_size, 10);
});

test('train_on_inputs keeps prompt labels (BOS excepted); add_bos/add_eos false leave them out', async () => {
  const { rows } = await tokenize({ train_on_inputs: true }, prompts([['a b', 'c']]));
  assert.deepEqual(rows('train')[0], { ids: [1, 4, 5, 6, 2], labels: [M, 4, 5, 6, 2], segments: [0] });
  const plain = await tokenize({ add_bos: false, add_eos: false }, prompts([['a b', 'c']]));
  assert.deepEqual(plain.rows('train')[0], { ids: [4, 5, 6], labels: [M, M, 6], segments: [0] });
});

test('truncation cuts the response tail (and its EOS) first; a response cut away entirely drops the example', async () => {
  const input = prompts([['a b', 'c d e f'], ['a b c d', 'e'], ['a', 'b']]);
  const { rows, summary } = await tokenize({ max_length: 5 }, input);
  assert.deepEqual(rows('train'), [
    { ids: [1, 4, 5, 6, 7], labels: [M, M, M, 6, 7], segments: [0] }, // no EOS: the response was cut
    { ids: [1, 4, 5, 2], labels: [M, M, 5, 2], segments: [0] },
  ]);
  assert.equal(summary.truncated, 1);
  assert.equal(summary.dropped, 1); // "a b c d" + BOS fills all 5 tokens: no response left
});

test('truncation = false drops long examples and counts them', async () => {
  const { rows, summary } = await tokenize({ max_length: 5, truncation: false }, prompts([['a b', 'c d e f'], ['a', 'b']]));
  assert.deepEqual(rows('train'), [{ ids: [1, 4, 5, 2], labels: [M, M, 5, 2], segments: [0] }]);
  assert.equal(summary.dropped, 1);
  await assert.rejects(tokenize({ max_length: 3, truncation: false }, prompts([['a b', 'c']])), (e: unknown) => e instanceof FtcError && e.code === 'E_TOKENIZER_EMPTY');
});

test('packing: greedy in order, segment starts recorded, each segment start is not a target', async () => {
  const input = prompts([['a', 'b'], ['c', 'd'], ['e', 'f c'], ['a', 'b']]);
  const { rows, summary, ds } = await tokenize({ max_length: 10, packing: true }, input);
  // Examples: [1 4 5 2] [1 6 7 2] [1 8 9 6 2] [1 4 5 2] → 4+4 fit in 10, +5 does not; 5+4 fit.
  assert.deepEqual(rows('train'), [
    { ids: [1, 4, 5, 2, 1, 6, 7, 2], labels: [M, M, 5, 2, M, M, 7, 2], segments: [0, 4] },
    { ids: [1, 8, 9, 6, 2, 1, 4, 5, 2], labels: [M, M, 9, 6, 2, M, M, 5, 2], segments: [0, 5] },
  ]);
  assert.deepEqual(summary, { rows: 2, tokens: 17, eval_rows: 0, truncated: 0, dropped: 0 });
  assert.equal(ds.meta.packed, true);
  assert.equal(ds.meta.splits.train.segments, 4);
  // With train_on_inputs the BOS of a later segment would be a target; it is masked.
  const t = await tokenize({ max_length: 10, packing: true, train_on_inputs: true }, prompts([['a', 'b'], ['c', 'd']]));
  assert.deepEqual(t.rows('train')[0].labels, [M, 4, 5, 2, M, 6, 7, 2]);
});

test('the tokenizer.json used is copied into the artifact and its sha256 recorded', async () => {
  const { ds, artifact, vocabFile } = await tokenize({}, prompts([['a', 'b']]));
  const original = readFileSync(vocabFile);
  assert.deepEqual(readFileSync(join(artifact.dir, 'tokenizer.json')), original);
  assert.equal(ds.meta.tokenizer_sha256, createHash('sha256').update(original).digest('hex'));
});

test('add_bos = true never doubles a BOS the prompt text starts with; unset, the tokenizer adds its own as transformers does', async () => {
  const { rows } = await tokenize({ add_bos: true }, prompts([['<s> a', 'b']]));
  assert.deepEqual(rows('train')[0].ids, [1, 4, 5, 2]);
  const unset = await tokenize({}, prompts([['<s> a', 'b']]));
  assert.deepEqual(unset.rows('train')[0].ids, [1, 1, 4, 5, 2]);
});

test('train {}: a byte-level BPE tokenizer trained on the examples, whose ids decode back to the text', async () => {
  const texts: Array<[string, string]> = Array.from({ length: 40 }, (_, i) => [`Convert ${i} meters to centimeters.`, ` ${i * 100} centimeters.`]);
  const dir = tempDir();
  const { artifact, summary } = await runStage(tokenizerStage, 'tok', { input: 'prompts', train: { vocab_size: 300, min_frequency: 2 }, max_length: 64 }, { inputs: [prompts(texts)], pipelineDir: dir });
  const ds = readTokenDataset(artifact.dir);
  // Training stops early when no pair is frequent enough; never past the requested size.
  assert.ok(ds.meta.vocab_size > 259 && ds.meta.vocab_size <= 300, `vocab ${ds.meta.vocab_size}`);
  assert.equal(summary.rows, 40);
  const tok = Tokenizer.fromString(readFileSync(join(artifact.dir, 'tokenizer.json'), 'utf8'));
  const e = ds.split('train').example(7);
  assert.equal(e.ids[0], ds.meta.bos_id);
  assert.equal(e.ids[e.ids.length - 1], ds.meta.eos_id);
  assert.equal(await tok.decode([...e.ids], true), 'Convert 7 meters to centimeters. 700 centimeters.');
  const responseIds = [...e.ids].filter((_, i) => e.labels[i] !== M);
  assert.equal(await tok.decode(responseIds, true), ' 700 centimeters.');
});

test('vocab and train together, or neither, is an FtcError', async () => {
  await assert.rejects(runStage(tokenizerStage, 'tok', { input: 'prompts' }, { inputs: [prompts([['a', 'b']])] }), /exactly one of vocab/);
  await assert.rejects(runStage(tokenizerStage, 'tok', { input: 'prompts', vocab: 'missing.json' }, { inputs: [prompts([['a', 'b']])] }), /tokenizer file not found: missing\.json/);
});
