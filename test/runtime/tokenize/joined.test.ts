import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { JsonValue } from '../../../src/compiler/ir.js';
import type { Artifact } from '../../../src/runtime/stage.js';
import { tokenizerStage } from '../../../src/runtime/stages/tokenizer.js';
import { readTokenDataset } from '../../../src/runtime/tokenize/dataset.js';
import { tempDir } from '../../helpers.js';
import { runStage } from '../stages/stage-context.js';

const M = -100;

/**
 * A Llama-style SentencePiece BPE written by hand, so every id below is known without running a
 * tokenizer: Metaspace (▁ for spaces, prepended to the first word only), byte_fallback for characters
 * outside the vocabulary (the newline becomes <0x0A>), and the merges ▁+E, ▁E+a, ▁Ea+t, ▁+a, ▁a+b.
 * Ids: <unk> 0, <s> 1, </s> 2, then 256 byte tokens <0x00>.. (3..258), then the pieces.
 */
const PIECES = ['▁', 'R', ':', '1', '.', 'E', 'a', 't', 'b', '▁E', '▁Ea', '▁Eat', '▁a', '▁ab', '▁R'];
const BYTE = (b: number) => 3 + b;
const P = (piece: string) => 259 + PIECES.indexOf(piece);

function sentencePiece(dir: string, opts: { truncation?: unknown; padding?: unknown; config?: Record<string, unknown> } = {}): string {
  const vocab: Record<string, number> = { '<unk>': 0, '<s>': 1, '</s>': 2 };
  for (let b = 0; b < 256; b++) vocab[`<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`] = BYTE(b);
  PIECES.forEach((p) => (vocab[p] = P(p)));
  const json = {
    version: '1.0',
    truncation: opts.truncation ?? null,
    padding: opts.padding ?? null,
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
    model: {
      type: 'BPE', dropout: null, unk_token: '<unk>', continuing_subword_prefix: null, end_of_word_suffix: null,
      fuse_unk: true, byte_fallback: true, ignore_merges: false, vocab,
      merges: ['▁ E', '▁E a', '▁Ea t', '▁ a', '▁a b', '▁ R'],
    },
  };
  mkdirSync(join(dir, 'sp'), { recursive: true });
  writeFileSync(join(dir, 'sp/tokenizer.json'), JSON.stringify(json));
  if (opts.config) writeFileSync(join(dir, 'sp/tokenizer_config.json'), JSON.stringify(opts.config));
  return 'sp/tokenizer.json';
}

function prompts(rows: Array<{ prompt: string; response: string; turns?: Array<[number, number]> }>): Artifact {
  const dir = tempDir();
  writeFileSync(join(dir, 'train.jsonl'), rows.map((r) => JSON.stringify(r) + '\n').join(''));
  writeFileSync(join(dir, 'eval.jsonl'), '');
  return { stage: 'prompts', kind: 'preprocess', key: 'k', dir, summary: {} };
}

async function tokenize(rows: Parameters<typeof prompts>[0], params: { [k: string]: JsonValue } = {}, opts: Parameters<typeof sentencePiece>[1] = {}) {
  const dir = tempDir();
  const vocab = sentencePiece(dir, opts);
  const { artifact, summary } = await runStage(tokenizerStage, 'tok', { input: 'prompts', vocab, ...params }, { inputs: [prompts(rows)], pipelineDir: dir });
  const split = readTokenDataset(artifact.dir).split('train');
  return { summary, rows: Array.from({ length: split.count }, (_, i) => ({ ids: [...split.example(i).ids], labels: [...split.example(i).labels] })) };
}

test('SentencePiece: the joined text is encoded, so the response gets no extra ▁ at the boundary', async () => {
  const { rows } = await tokenize([{ prompt: 'R:\n', response: '1. Eat' }]);
  // Encoded apart, the response would start ▁ 1 (Metaspace prepends ▁ to a text's first word).
  const ids = [1, P('▁R'), P(':'), BYTE(0x0a), P('1'), P('.'), P('▁Eat'), 2];
  assert.deepEqual(rows, [{ ids, labels: [M, M, M, M, P('1'), P('.'), P('▁Eat'), 2] }]);
});

test('a token straddling the prompt/response boundary belongs to the prompt', async () => {
  // "a" + "b" joined is the one token ▁ab: masked, so only EOS is learned.
  const { rows } = await tokenize([{ prompt: 'a', response: 'b' }]);
  assert.deepEqual(rows, [{ ids: [1, P('▁ab'), 2], labels: [M, M, 2] }]);
});

test('truncation and padding saved in tokenizer.json are not applied (transformers resets them per call)', async () => {
  const row = [{ prompt: 'R:\n', response: '1. Eat' }];
  const plain = await tokenize(row);
  const saved = await tokenize(row, {}, {
    truncation: { direction: 'Right', max_length: 3, strategy: 'LongestFirst', stride: 0 },
    padding: { strategy: { Fixed: 32 }, direction: 'Right', pad_to_multiple_of: null, pad_id: 0, pad_type_id: 0, pad_token: '<unk>' },
  });
  assert.deepEqual(saved.rows, plain.rows);
  assert.equal(saved.summary.truncated, 0);
});

test('BOS/EOS: tokenizer_config.json add_bos_token/add_eos_token replace the post-processor, as in transformers; the pipeline overrides', async () => {
  const row = [{ prompt: 'R:\n', response: '1.' }];
  const text = [P('▁R'), P(':'), BYTE(0x0a), P('1'), P('.')];
  const noBos = await tokenize(row, {}, { config: { add_bos_token: false, bos_token: '<s>', eos_token: '</s>' } });
  assert.deepEqual(noBos.rows[0].ids, [...text, 2]);
  // The tokenizer's own EOS is not doubled by the one appended after the response.
  const both = await tokenize(row, {}, { config: { add_bos_token: true, add_eos_token: true, bos_token: '<s>', eos_token: '</s>' } });
  assert.deepEqual(both.rows[0], { ids: [1, ...text, 2], labels: [M, M, M, M, P('1'), P('.'), 2] });
  const overridden = await tokenize(row, { add_bos: false, add_eos: false }, { config: { add_bos_token: true, bos_token: '<s>' } });
  assert.deepEqual(overridden.rows[0].ids, text);
  const forced = await tokenize(row, { add_bos: true }, { config: { add_bos_token: false, bos_token: '<s>' } });
  assert.deepEqual(forced.rows[0].ids, [1, ...text, 2]);
});

test('chat examples: each turn span is trained, no special tokens are added unless the pipeline asks', async () => {
  // "R:\n1.R:\nab" with turns "1." and "ab" (both inside the one Metaspace word, so by offsets).
  const prompt = 'R:\n';
  const response = '1.R:\nab';
  const turns: Array<[number, number]> = [[3, 5], [8, 10]];
  const { rows } = await tokenize([{ prompt, response, turns }]);
  const ids = [P('▁R'), P(':'), BYTE(0x0a), P('1'), P('.'), P('R'), P(':'), BYTE(0x0a), P('a'), P('b')];
  assert.deepEqual(rows, [{ ids, labels: [M, M, M, P('1'), P('.'), M, M, M, P('a'), P('b')] }]);
  const withEos = await tokenize([{ prompt, response, turns }], { add_eos: true });
  assert.deepEqual(withEos.rows[0].ids, [...ids, 2]);
});
