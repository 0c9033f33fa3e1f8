import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { test } from 'node:test';
import fc from 'fast-check';
import { byteToUnicode, trainBpeTokenizer } from '../../../src/runtime/tokenize/bpe.js';
import { encoderPlan, gpt2Words, idEncoder, libraryEncoder, WordCacheEncoder, wordCacheUnsupported } from '../../../src/runtime/tokenize/word-cache.js';
import { repoRoot } from '../../helpers.js';

const require = createRequire(import.meta.url);
const { Tokenizer, byteLevelPreTokenizer } = require('tokenizers') as typeof import('tokenizers');

/**
 * The word cache must give exactly the library's ids. Each check encodes the same texts through
 * the cache and through the library's own encodeBatch and compares every id.
 */
const alpaca = JSON.parse(readFileSync(join(repoRoot(), 'data/alpaca_sample.json'), 'utf8')) as Array<Record<string, string>>;
const shipped = alpaca.flatMap((r) => [r.instruction, r.input, r.output]);
const SPECIAL = '<|im_start|>';
const json = trainBpeTokenizer(shipped, { vocabSize: 900, specialTokens: [SPECIAL] });

/**
 * A BPE that merges every pair of ASCII bytes: within a word, characters pair up left to right, so a
 * word boundary in a different place changes the ids. (A trained vocabulary lacks most cross-boundary
 * merges, so a wrong split would often still give the same ids there.)
 */
function allPairsJson(): string {
  const config = JSON.parse(json) as { model: { vocab: Record<string, number>; merges: string[] } };
  const ascii = byteToUnicode().slice(0, 128);
  const vocab = { ...config.model.vocab };
  const merges: string[] = [];
  let next = Math.max(...Object.values(vocab)) + 1;
  for (const a of ascii) for (const b of ascii) if (vocab[a + b] === undefined) {
    vocab[a + b] = next++;
    merges.push(`${a} ${b}`);
  }
  // An added token that overlaps a word's end and the separator the cache joins unseen words with
  // (<unk>, the first plain added token): those joined chunks must fall back to word-by-word encoding.
  const overlap = { id: next, content: 'a<unk>', single_word: false, lstrip: false, rstrip: false, normalized: false, special: false };
  const added = [...(config as unknown as { added_tokens: object[] }).added_tokens, overlap];
  return JSON.stringify({ ...config, added_tokens: added, model: { ...config.model, vocab, merges } });
}
const allPairs = allPairsJson();

function setup(config = json) {
  const tokenizer = Tokenizer.fromString(config);
  return { encoder: idEncoder(tokenizer, encoderPlan(JSON.parse(config) as Record<string, unknown>)), library: libraryEncoder(tokenizer) };
}

/** Same ids through the cache as through the library, for the trained and the all-pairs tokenizer. */
async function assertSameIds(texts: string[]): Promise<void> {
  for (const config of [json, allPairs]) {
    const { encoder, library } = setup(config);
    // Twice through the cache: the second pass is served from words cached by the first.
    for (const pass of [1, 2]) {
      const [got, want] = await Promise.all([encoder.encodeBatch(texts), library.encodeBatch(texts)]);
      for (let i = 0; i < texts.length; i++) assert.deepEqual(Array.from(got[i]), Array.from(want[i]), `pass ${pass}, text ${JSON.stringify(texts[i])}`);
    }
  }
}

test('the ftc-trained byte-level BPE qualifies for the cache; other configurations fall back to the library', () => {
  const config = JSON.parse(json) as Record<string, unknown>;
  assert.equal(wordCacheUnsupported(config), undefined);
  assert.ok(setup().encoder instanceof WordCacheEncoder);
  const variant = (patch: Record<string, unknown>) => wordCacheUnsupported({ ...config, ...patch });
  assert.equal(variant({ normalizer: { type: 'NFC' } }), 'has a normalizer');
  assert.equal(variant({ pre_tokenizer: { type: 'ByteLevel', add_prefix_space: true, use_regex: true } }), 'ByteLevel adds a prefix space');
  assert.equal(variant({ pre_tokenizer: { type: 'ByteLevel', add_prefix_space: false, use_regex: false } }), 'ByteLevel without the GPT-2 regex');
  assert.equal(variant({ pre_tokenizer: { type: 'Sequence', pretokenizers: [] } }), 'pre-tokenizer is not ByteLevel');
  assert.equal(variant({ model: { ...(config.model as object), dropout: 0.1 } }), 'BPE dropout');
  // Saved truncation/padding are switched off when the file is loaded (load.ts), so they do not matter here.
  assert.equal(variant({ truncation: { max_length: 8 } }), undefined);
  assert.equal(variant({ post_processor: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true } }), 'post-processor trims offsets');
  const wordLevel = { ...config, pre_tokenizer: { type: 'WhitespaceSplit' }, model: { type: 'WordLevel', vocab: { a: 0 }, unk_token: 'a' } };
  assert.equal(wordCacheUnsupported(wordLevel), 'pre-tokenizer is not ByteLevel');
  assert.ok(!(idEncoder(Tokenizer.fromString(JSON.stringify(wordLevel)), encoderPlan(wordLevel)) instanceof WordCacheEncoder));
});

test('the shipped Alpaca sample: same ids as the library, and the cache does serve its texts', async () => {
  await assertSameIds(shipped);
  const { encoder } = setup();
  await encoder.encodeBatch(['The plural of "cactus" is "cacti".', '11 °C is 51.8 °F.', 'emoji 😀 go to the library whole']);
  const words = ['The', ' plural', ' of', ' "', 'cactus', '"', ' is', 'cacti', '".', '11', ' °', 'C', ' 51', '.', '8', 'F'];
  assert.equal((encoder as WordCacheEncoder).size, words.length);
});

test('every code point the cache accepts is split as the library\'s ByteLevel pre-tokenizer splits it', () => {
  const pre = byteLevelPreTokenizer(false, true);
  const byteChar = byteToUnicode();
  const utf8 = new TextEncoder();
  const byteLevel = (word: string) => Array.from(utf8.encode(word), (b) => byteChar[b]).join('');
  // Contexts that tell a letter, a digit, whitespace and anything else apart.
  const contexts = (c: string) => `x${c}x1${c}1 ${c}.\n${c}${c} '${c}`;
  let accepted = 0;
  for (let start = 0; start < 0x10000; start += 1024) {
    const chars: string[] = [];
    for (let cp = start; cp < start + 1024; cp++) {
      const c = String.fromCharCode(cp);
      if (gpt2Words(c) !== undefined) chars.push(c);
    }
    if (!chars.length) continue;
    accepted += chars.length;
    const text = chars.map(contexts).join('');
    const ours = gpt2Words(text)!.map(byteLevel);
    const theirs = pre.preTokenizeString(text).map(([word]) => word);
    if (ours.join('\0') !== theirs.join('\0')) {
      const bad = chars.find((c) => gpt2Words(contexts(c))!.map(byteLevel).join('\0') !== pre.preTokenizeString(contexts(c)).map(([w]) => w).join('\0'))!;
      assert.fail(`U+${bad.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')} splits differently`);
    }
  }
  assert.ok(accepted > 35000, `${accepted} code points accepted`);
  for (const refused of ['\u0c5c', '\u088f', '\ua7ce', '😀', '\ud800', 'a\udc00b']) assert.equal(gpt2Words(refused), undefined, refused);
});

test('every ASCII character, alone and next to letters, digits, spaces, apostrophes and itself', async () => {
  const texts: string[] = [];
  for (let c = 0; c < 128; c++) {
    const ch = String.fromCharCode(c);
    for (const [l, r] of [['', ''], ['a', 'a'], ['1', '1'], [' ', ' '], ['  ', 'x'], ["'", 's'], ['x', "'t"], ['\n', '\n\n'], [ch, ch]]) texts.push(l + ch + r);
  }
  await assertSameIds(texts);
});

test('fuzz: random strings over a tricky ASCII alphabet (contractions, whitespace runs, added tokens)', async () => {
  const unit = fc.constantFrom(...["'s", "'t", "'re", "'ve", "'m", "'ll", "'d", "'", ' ', '  ', '\n', '\r\n', '\t', '\v', '\f', 'a', 'Z', 'word', '7', '42', '.', ',!', '-', '\x00', '\x1f', '\x7f', '<s>', '</s>', SPECIAL, '<|im', '<unk>']);
  const texts = fc.sample(fc.string({ unit, maxLength: 30 }), { numRuns: 3000, seed: 7 });
  await assertSameIds(texts);
});

test('fuzz: random unicode strings, BMP strings, and ASCII words mixed with unicode ones', async () => {
  const any = fc.sample(fc.string({ unit: 'binary', maxLength: 40 }), { numRuns: 1500, seed: 11 });
  const tricky = ['é', '°C', ' ', 'a', "'s", '日本', '\u00a0', '\u2028', '\ufeff', '\x85', '\u3000', '😀', '1', '.', 'ß', 'Ω', 'ǅ', '٣', '²', '’', '—', 'ం', '\u0c5c', 'Привет'];
  const mixed = fc.sample(fc.string({ unit: fc.constantFrom(...tricky), maxLength: 20 }), { numRuns: 2000, seed: 12 });
  const bmp = fc.sample(fc.string({ unit: fc.integer({ min: 0, max: 0x9fff }).map((cp) => String.fromCharCode(cp)), maxLength: 30 }), { numRuns: 1500, seed: 13 });
  await assertSameIds([...any, ...mixed, ...bmp]);
});
