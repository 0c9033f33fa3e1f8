/**
 * Real-size tokenizer.json files built in memory (nothing can be downloaded): the two families the
 * tokenizer stage meets in practice, at their usual sizes.
 *
 * - `llamaSentencePiece(words, 32000)`: Llama-2's layout: normalizer Prepend("▁") + Replace(" " → "▁"),
 *   no pre-tokenizer, BPE with byte_fallback and fuse_unk, <unk> <s> </s>, then the 256 <0xNN> byte
 *   pieces, then printable ASCII and ▁, then merged pieces; the post-processor prepends <s>.
 * - `byteLevelBpe(words, 150000)`: GPT-2's layout (ByteLevel pre-tokenizer with the GPT-2 regex, no
 *   prefix space), the size of Qwen2's vocabulary: 256 byte symbols, merged pieces, <|endoftext|>.
 *
 * Merges are not learned from a corpus (the tokenizers binding has no trainer with a vocabulary size,
 * and ftc's own trainer would take hours at this size): each word, in rank order and in the forms
 * text shows it (after a space or not, capitalised or not), gets the chain of merges that builds it
 * left to right (w, wo, wor, word), until the vocabulary is full. So frequent words are one token and
 * rare ones split into shorter pieces, and the merge table has the real size the library searches.
 */

import { byteToUnicode } from '../src/runtime/tokenize/bpe.js';

function forms(word: string, mark: string): string[] {
  const cap = word[0]!.toUpperCase() + word.slice(1);
  return [mark + word, mark + cap, word, cap];
}

/** Adds prefix-chain merges for `pieces` (strings of base symbols) until `vocab` holds `size` entries. */
function chains(vocab: Map<string, number>, merges: string[], pieces: Iterable<string[]>, size: number): void {
  for (const symbols of pieces) {
    let left = symbols[0]!;
    for (let k = 1; k < symbols.length; k++) {
      const merged = left + symbols[k]!;
      if (!vocab.has(merged)) {
        if (vocab.size >= size) return;
        merges.push(`${left} ${symbols[k]}`);
        vocab.set(merged, vocab.size);
      }
      left = merged;
    }
  }
}

function* wordPieces(words: readonly string[], mark: string, toSymbols: (s: string) => string[]): Generator<string[]> {
  for (const w of words) for (const f of forms(w, mark)) yield toSymbols(f);
}

export function llamaSentencePiece(words: readonly string[], size: number): string {
  const vocab = new Map<string, number>([['<unk>', 0], ['<s>', 1], ['</s>', 2]]);
  for (let b = 0; b < 256; b++) vocab.set(`<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`, vocab.size);
  vocab.set('▁', vocab.size);
  for (let c = 0x21; c < 0x7f; c++) vocab.set(String.fromCharCode(c), vocab.size);
  const merges: string[] = [];
  chains(vocab, merges, wordPieces(words, '▁', (s) => [...s]), size);
  const special = (content: string, id: number) => ({ id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true });
  return JSON.stringify({
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: [special('<unk>', 0), special('<s>', 1), special('</s>', 2)],
    normalizer: { type: 'Sequence', normalizers: [{ type: 'Prepend', prepend: '▁' }, { type: 'Replace', pattern: { String: ' ' }, content: '▁' }] },
    pre_tokenizer: null,
    post_processor: {
      type: 'TemplateProcessing',
      single: [{ SpecialToken: { id: '<s>', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }],
      pair: [{ SpecialToken: { id: '<s>', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }, { SpecialToken: { id: '<s>', type_id: 1 } }, { Sequence: { id: 'B', type_id: 1 } }],
      special_tokens: { '<s>': { id: '<s>', ids: [1], tokens: ['<s>'] } },
    },
    decoder: {
      type: 'Sequence',
      decoders: [{ type: 'Replace', pattern: { String: '▁' }, content: ' ' }, { type: 'ByteFallback' }, { type: 'Fuse' }, { type: 'Strip', content: ' ', start: 1, stop: 0 }],
    },
    model: {
      type: 'BPE', dropout: null, unk_token: '<unk>', continuing_subword_prefix: null, end_of_word_suffix: null,
      fuse_unk: true, byte_fallback: true, ignore_merges: false, vocab: Object.fromEntries(vocab), merges,
    },
  });
}

export function byteLevelBpe(words: readonly string[], size: number): string {
  const byteChar = byteToUnicode();
  const vocab = new Map<string, number>(byteChar.map((ch, b) => [ch, b]));
  const merges: string[] = [];
  const toSymbols = (s: string) => [...Buffer.from(s, 'utf8')].map((b) => byteChar[b]!);
  // Numbers as GPT-2's regex cuts them (" 1234"), after the words; one entry is kept for <|endoftext|>.
  const numbers = function* () {
    for (let n = 0; n < 10000; n++) for (const f of [` ${n}`, String(n)]) yield toSymbols(f);
  };
  chains(vocab, merges, wordPieces(words, ' ', toSymbols), size - 1);
  chains(vocab, merges, numbers(), size - 1);
  const eot = { id: vocab.size, content: '<|endoftext|>', single_word: false, lstrip: false, rstrip: false, normalized: false, special: true };
  const byteLevel = { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true };
  return JSON.stringify({
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: [eot],
    normalizer: null,
    pre_tokenizer: byteLevel,
    post_processor: { ...byteLevel, trim_offsets: false },
    decoder: byteLevel,
    model: {
      type: 'BPE', dropout: null, unk_token: null, continuing_subword_prefix: '', end_of_word_suffix: '',
      fuse_unk: false, byte_fallback: false, ignore_merges: false, vocab: Object.fromEntries(vocab), merges,
    },
  });
}
