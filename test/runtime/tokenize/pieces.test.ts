import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import fc from 'fast-check';
import { trainBpeTokenizer } from '../../../src/runtime/tokenize/bpe.js';
import { PieceEncoder, type Piece } from '../../../src/runtime/tokenize/pieces.js';
import { encoderPlan } from '../../../src/runtime/tokenize/word-cache.js';

const { Tokenizer } = createRequire(import.meta.url)('tokenizers') as typeof import('tokenizers');

/**
 * PieceEncoder finds the trained tokens of a text the library encodes whole by binary search over
 * token offsets. These tests hold it to the rule itself, applied token by token to the library's
 * getOffsets: a token is trained when all of its characters lie inside one span.
 */

const TEXT = ['a', 'b', 'ab', 'the', ' ', '  ', '\n', 'é', '中', '😀', '1', '.', ':', "'s", '▁'];

/** A Llama-2-style SentencePiece BPE: Prepend("▁") + Replace(" " → "▁"), byte_fallback, a few merges. */
function llamaStyle(): string {
  const vocab: Record<string, number> = { '<unk>': 0, '<s>': 1, '</s>': 2 };
  for (let b = 0; b < 256; b++) vocab[`<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`] = 3 + b;
  const merges: string[] = [];
  const add = (p: string) => (vocab[p] ??= Object.keys(vocab).length);
  for (const p of ['▁', 'a', 'b', 't', 'h', 'e', '1', '.', ':', 'é', "'", 's']) add(p);
  for (const [l, r] of [['▁', 't'], ['▁t', 'h'], ['▁th', 'e'], ['▁', 'a'], ['▁a', 'b'], ['a', 'b'], ['▁', '▁']]) {
    merges.push(`${l} ${r}`);
    add(l + r);
  }
  return JSON.stringify({
    version: '1.0', truncation: null, padding: null,
    added_tokens: ['<unk>', '<s>', '</s>'].map((content, id) => ({ id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true })),
    normalizer: { type: 'Sequence', normalizers: [{ type: 'Prepend', prepend: '▁' }, { type: 'Replace', pattern: { String: ' ' }, content: '▁' }] },
    pre_tokenizer: null,
    post_processor: null,
    decoder: null,
    model: { type: 'BPE', dropout: null, unk_token: '<unk>', continuing_subword_prefix: null, end_of_word_suffix: null, fuse_unk: true, byte_fallback: true, ignore_merges: false, vocab, merges },
  });
}

/** GPT-2's own layout: a ByteLevel post-processor that trims offsets (so the word cache does not apply). */
function gpt2Trimmed(): string {
  const config = JSON.parse(trainBpeTokenizer(['the ab  ab a b', "it's 1.1 é 中 😀\n\n the"], { vocabSize: 300 })) as Record<string, unknown>;
  return JSON.stringify({ ...config, post_processor: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true } });
}

/** The rule applied to every token, with the library's offsets (code points). */
async function byOffsets(json: string, piece: Piece): Promise<{ ids: number[]; trained: number[] }> {
  const e = await Tokenizer.fromString(json).encode(piece.text, null, { addSpecialTokens: false });
  const cp = (i: number) => Array.from(piece.text.slice(0, i)).length;
  const spans = piece.spans.map(([s, end]) => [cp(s), cp(end)]);
  return { ids: e.getIds(), trained: e.getOffsets().map(([s, end]) => (spans.some(([a, b]) => a <= s && end <= b) ? 1 : 0)) };
}

/** A text of TEXT parts and up to three spans whose edges fall between parts (never inside a code point). */
const pieces = fc
  .array(fc.constantFrom(...TEXT), { minLength: 0, maxLength: 30 })
  .chain((parts) => {
    const edges: number[] = [0];
    for (const p of parts) edges.push(edges[edges.length - 1]! + p.length);
    return fc.tuple(fc.constant(parts.join('')), fc.uniqueArray(fc.constantFrom(...edges), { maxLength: 6 }));
  })
  .map(([text, cuts]): Piece => {
    const sorted = [...cuts].sort((a, b) => a - b);
    const spans: Array<[number, number]> = [];
    for (let i = 0; i + 1 < sorted.length; i += 2) spans.push([sorted[i]!, sorted[i + 1]!]);
    return { text, spans };
  });

for (const [name, json] of [['Llama-style SentencePiece (normalizer, byte_fallback)', llamaStyle()], ['GPT-2 byte-level with trimmed offsets', gpt2Trimmed()]] as const) {
  test(`${name}: the trained tokens are those the per-token offset rule marks`, async () => {
    const config = JSON.parse(json) as Record<string, unknown>;
    const plan = encoderPlan(config);
    assert.equal(plan.wordCache, false, 'these tokenizers must go to the library whole');
    const encoder = new PieceEncoder(Tokenizer.fromString(json), plan);
    await fc.assert(
      fc.asyncProperty(fc.array(pieces, { minLength: 1, maxLength: 8 }), async (batch) => {
        const got = await encoder.encode(batch);
        for (let i = 0; i < batch.length; i++) {
          const want = await byOffsets(json, batch[i]!);
          assert.deepEqual(Array.from(got[i]!.ids), want.ids, JSON.stringify(batch[i]));
          assert.deepEqual(Array.from(got[i]!.trained), want.trained, JSON.stringify(batch[i]));
        }
      }),
      { numRuns: 300, seed: 15 },
    );
  });
}

test('a response after a multi-byte character: byte tokens of one character share its offsets and are masked together', async () => {
  const json = llamaStyle();
  const encoder = new PieceEncoder(Tokenizer.fromString(json), encoderPlan(JSON.parse(json) as Record<string, unknown>));
  // 中 has no piece: three <0x..> byte tokens with the same offsets, then the response "ab".
  const [got] = await encoder.encode([{ text: '中ab', spans: [[1, 3]] }]);
  const want = await byOffsets(json, { text: '中ab', spans: [[1, 3]] });
  assert.deepEqual(Array.from(got!.ids), want.ids);
  assert.deepEqual(Array.from(got!.trained), want.trained);
  assert.deepEqual(want.trained.slice(-1), [1]);
  assert.ok(want.trained.slice(0, -1).every((t) => t === 0));
});
