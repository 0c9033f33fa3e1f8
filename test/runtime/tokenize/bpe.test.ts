import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { describe, it } from 'node:test';
import { byteToUnicode, trainBpeTokenizer } from '../../../src/runtime/tokenize/bpe.js';

const require = createRequire(import.meta.url);
const { Tokenizer, byteLevelAlphabet, byteLevelPreTokenizer } = require('tokenizers') as typeof import('tokenizers');

const CORPUS = [
  'Give three tips for staying healthy.',
  '1. Eat a balanced diet and make sure to include plenty of fruits and vegetables.\n2. Exercise regularly to keep your body active and strong.',
  'What are the three primary colors? The three primary colors are red, blue, and yellow.',
  'Describe the structure of an atom. An atom is made up of a nucleus, which contains protons and neutrons, surrounded by electrons.',
  'Translate "thank you" into French: merci beaucoup! Ça va très bien, naïve café — 東京 🚀',
];

/** Independent BPE encoder: lowest-rank adjacent pair first, leftmost on ties, on the library's pre-tokenized words. */
function naiveEncode(tokenizerJson: string, text: string): number[] {
  const model = JSON.parse(tokenizerJson).model as { vocab: Record<string, number>; merges: string[] };
  const rank = new Map(model.merges.map((m, i) => [m, i]));
  const ids: number[] = [];
  for (const [word] of byteLevelPreTokenizer(false, true).preTokenizeString(text)) {
    let symbols = [...word];
    for (;;) {
      let best = -1;
      for (let i = 0; i + 1 < symbols.length; i++) {
        const r = rank.get(`${symbols[i]} ${symbols[i + 1]}`);
        if (r !== undefined && (best < 0 || r < rank.get(`${symbols[best]} ${symbols[best + 1]}`)!)) best = i;
      }
      if (best < 0) break;
      symbols = [...symbols.slice(0, best), symbols[best]! + symbols[best + 1]!, ...symbols.slice(best + 2)];
    }
    ids.push(...symbols.map((s) => model.vocab[s]!));
  }
  return ids;
}

describe('trainBpeTokenizer', () => {
  it('learns the merges a hand count predicts', () => {
    // Words "abab" and "Ġabab": (a,b) occurs 4 times -> "ab"; then (ab,ab) twice -> "abab"; (Ġ,abab) once is below min frequency 2.
    const json = JSON.parse(trainBpeTokenizer(['abab abab'], { vocabSize: 300 }));
    assert.deepEqual(json.model.merges, ['a b', 'ab ab']);
    assert.equal(json.model.vocab.ab, 259);
    assert.equal(json.model.vocab.abab, 260);
    const withOnce = JSON.parse(trainBpeTokenizer(['abab abab'], { vocabSize: 300, minFrequency: 1 }));
    assert.deepEqual(withOnce.model.merges, ['a b', 'ab ab', 'Ġ abab']);
  });

  it('puts <unk>, <s>, </s> first and then the 256 byte symbols in byte order', () => {
    const json = JSON.parse(trainBpeTokenizer(CORPUS, { vocabSize: 300, specialTokens: ['<pad>'] }));
    const vocab = json.model.vocab as Record<string, number>;
    assert.equal(vocab['<unk>'], 0);
    assert.equal(vocab['<s>'], 1);
    assert.equal(vocab['</s>'], 2);
    assert.equal(vocab['<pad>'], 3);
    assert.equal(vocab['A'], 4 + 0x41);
    assert.equal(vocab['Ġ'], 4 + 0x20); // space
    assert.deepEqual(new Set(byteToUnicode()), new Set(byteLevelAlphabet()));
    assert.ok(Object.keys(vocab).length <= 300);
  });

  it('is deterministic and fills the vocabulary when the corpus allows', () => {
    const a = trainBpeTokenizer(CORPUS, { vocabSize: 320, minFrequency: 1 });
    assert.equal(trainBpeTokenizer([...CORPUS], { vocabSize: 320, minFrequency: 1 }), a);
    assert.notEqual(trainBpeTokenizer(CORPUS.slice(1), { vocabSize: 320, minFrequency: 1 }), a);
    assert.equal(Tokenizer.fromString(a).getVocabSize(true), 320);
  });

  it('rejects a vocabulary too small for the byte alphabet', () => {
    assert.throws(() => trainBpeTokenizer(CORPUS, { vocabSize: 100 }), RangeError);
  });

  it('loads in tokenizers, encodes as an independent BPE encoder does, and decodes back to the text', async () => {
    const text = trainBpeTokenizer(CORPUS, { vocabSize: 400, minFrequency: 1 });
    const tok = Tokenizer.fromString(text);
    const samples = [...CORPUS, 'Unseen words: zebra quokka!!  double  spaces\n\ttabs', '', 'émoji 🚀🚀 and 東京'];
    for (const s of samples) {
      const plain = await tok.encode(s, null, { addSpecialTokens: false });
      assert.deepEqual(plain.getIds(), naiveEncode(text, s), s);
      assert.equal(await tok.decode(plain.getIds(), false), s);
      const withBos = await tok.encode(s);
      assert.deepEqual(withBos.getIds(), [1, ...plain.getIds()]); // the post-processor prepends <s>, never </s>
      assert.equal(await tok.decode([...withBos.getIds(), 2], true), s);
    }
    const trained = await tok.encode('three primary colors', null, { addSpecialTokens: false });
    assert.ok(trained.getIds().length < 'three primary colors'.length, 'merges shorten frequent words');
  });
});
