import { createRequire } from 'node:module';

/**
 * Trains a GPT-2 style byte-level BPE tokenizer and returns its tokenizer.json text.
 *
 * The `tokenizers` node bindings can load and run a BPE model but expose no trainer with a vocabulary
 * size, so training is done here: words come from the library's own ByteLevel pre-tokenizer (so
 * training and encoding split text identically), then the most frequent adjacent pair is merged until
 * the vocabulary is full. Ties go to the pair with the smaller (left id, right id), so the same texts
 * always give the same bytes.
 *
 * Ids: `<unk>` 0, `<s>` 1 (BOS), `</s>` 2 (EOS), then any extra special tokens, then the 256 byte symbols
 * in byte order, then merges in the order they were learned. The post-processor prepends `<s>` as
 * Llama's tokenizer does (encode with addSpecialTokens false to add BOS/EOS yourself); EOS is never
 * added automatically.
 */

const require = createRequire(import.meta.url);
const tokenizers = require('tokenizers') as typeof import('tokenizers');

export interface BpeTrainOptions {
  /** Total vocabulary, special tokens and the 256 byte symbols included. */
  vocabSize: number;
  /** Pairs seen fewer times than this are never merged (default 2). */
  minFrequency?: number;
  /** Added after `<unk>`, `<s>`, `</s>` (which are always there). */
  specialTokens?: string[];
}

export const UNK = '<unk>';
export const BOS = '<s>';
export const EOS = '</s>';

/** GPT-2's reversible byte → printable character map: printable Latin-1 maps to itself, the rest above U+0100. */
export function byteToUnicode(): string[] {
  const out: string[] = new Array(256);
  let extra = 0;
  for (let b = 0; b < 256; b++) {
    const printable = (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
    out[b] = String.fromCharCode(printable ? b : 256 + extra++);
  }
  return out;
}

export function trainBpeTokenizer(texts: string[], opts: BpeTrainOptions): string {
  const specials = [UNK, BOS, EOS, ...(opts.specialTokens ?? []).filter((t) => t !== UNK && t !== BOS && t !== EOS)];
  const minimum = specials.length + 256;
  if (!Number.isInteger(opts.vocabSize) || opts.vocabSize < minimum) {
    throw new RangeError(`vocabSize must be an integer >= ${minimum} (special tokens + 256 bytes), got ${opts.vocabSize}`);
  }
  const minFrequency = opts.minFrequency ?? 2;

  const tokens: string[] = [...specials, ...byteToUnicode()];
  const idOf = new Map(tokens.map((t, i) => [t, i]));
  const words = countWords(texts).map(([word, count]) => ({ symbols: [...word].map((ch) => idOf.get(ch)!), count }));

  // Pair counts and, per pair, the words holding it: only those words change when the pair merges.
  const pairCount = new Map<number, number>();
  const pairWords = new Map<number, Set<number>>();
  const key = (a: number, b: number): number => a * 2 ** 21 + b;
  const addWord = (w: number, sign: 1 | -1): void => {
    const { symbols, count } = words[w]!;
    for (let i = 0; i + 1 < symbols.length; i++) {
      const k = key(symbols[i]!, symbols[i + 1]!);
      pairCount.set(k, (pairCount.get(k) ?? 0) + sign * count);
      if (sign > 0) (pairWords.get(k) ?? pairWords.set(k, new Set()).get(k)!).add(w);
    }
  };
  words.forEach((_, w) => addWord(w, 1));

  const merges: [string, string][] = [];
  while (tokens.length < opts.vocabSize) {
    let best = -1;
    let bestCount = 0;
    for (const [k, c] of pairCount) {
      if (c > bestCount || (c === bestCount && c > 0 && k < best)) {
        best = k;
        bestCount = c;
      }
    }
    if (best < 0 || bestCount < minFrequency) break;
    const a = Math.floor(best / 2 ** 21);
    const b = best - a * 2 ** 21;
    const merged = tokens[a]! + tokens[b]!;
    // Two merge paths can spell the same token ("a"+"bc", "ab"+"c"); it keeps its first id.
    let id = idOf.get(merged);
    if (id === undefined) {
      id = tokens.length;
      tokens.push(merged);
      idOf.set(merged, id);
    }
    merges.push([tokens[a]!, tokens[b]!]);
    for (const w of [...pairWords.get(best)!].sort((x, y) => x - y)) {
      addWord(w, -1);
      words[w]!.symbols = mergePair(words[w]!.symbols, a, b, id);
      addWord(w, 1);
    }
    pairCount.delete(best);
    pairWords.delete(best);
  }
  return tokenizerJson(tokens, specials, merges);
}

/** Replaces each non-overlapping (a, b), left to right, by `id`: what BPE encoding does for one merge. */
function mergePair(symbols: number[], a: number, b: number, id: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < symbols.length; i++) {
    if (symbols[i] === a && symbols[i + 1] === b) {
      out.push(id);
      i++;
    } else {
      out.push(symbols[i]!);
    }
  }
  return out;
}

/** Pre-tokenized words (in byte-level characters) with their counts, in first-seen order. */
function countWords(texts: string[]): [string, number][] {
  const pre = tokenizers.byteLevelPreTokenizer(false, true);
  const counts = new Map<string, number>();
  for (const text of texts) {
    for (const [word] of pre.preTokenizeString(text)) counts.set(word, (counts.get(word) ?? 0) + 1);
  }
  return [...counts];
}

function tokenizerJson(tokens: string[], specials: string[], merges: [string, string][]): string {
  const vocab: Record<string, number> = {};
  tokens.forEach((t, i) => (vocab[t] = i));
  const byteLevel = { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true };
  const json = {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: specials.map((content, id) => ({
      id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true,
    })),
    normalizer: null,
    pre_tokenizer: byteLevel,
    post_processor: {
      type: 'TemplateProcessing',
      single: [{ SpecialToken: { id: BOS, type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }],
      pair: [
        { SpecialToken: { id: BOS, type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } },
        { SpecialToken: { id: BOS, type_id: 1 } }, { Sequence: { id: 'B', type_id: 1 } },
      ],
      special_tokens: { [BOS]: { id: BOS, ids: [1], tokens: [BOS] } },
    },
    decoder: byteLevel,
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: null,
      continuing_subword_prefix: null,
      end_of_word_suffix: null,
      fuse_unk: false,
      byte_fallback: false,
      ignore_merges: false,
      vocab,
      // "left right" strings: byte-level symbols never contain a space, and every tokenizers version reads this form.
      merges: merges.map(([l, r]) => `${l} ${r}`),
    },
  };
  return JSON.stringify(json, null, 2) + '\n';
}
