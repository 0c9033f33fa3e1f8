import type { Encoding, Tokenizer } from 'tokenizers';
import { addedTokenTest, gpt2Words, WordCacheEncoder, type EncoderPlan } from './word-cache.js';

/** A text to encode whole and the [start, end) character spans of it (UTF-16 indices) to train on. */
export interface Piece {
  text: string;
  spans: ReadonlyArray<readonly [number, number]>;
}

/** A piece's token ids (no special tokens added) and, per token, 1 where it is trained on. */
export interface EncodedPiece {
  ids: ArrayLike<number>;
  trained: Uint8Array;
}

/**
 * Encodes the joined text of each piece, as Stanford Alpaca's train.py and axolotl encode
 * prompt + response, and marks the trained tokens by character offsets.
 *
 * The rule: a token is trained on when all of its characters lie inside one trained span. So a
 * token that straddles the start of a response (a prompt's last characters merged with the
 * response's first) belongs to the prompt and is masked, as HF's offset-based masking does; one
 * straddling the end of an assistant turn is masked too. Offsets are the library's (what
 * transformers returns with return_offsets_mapping).
 *
 * Where the word cache applies and every span edge falls between two GPT-2 words of the joined
 * text, the text is encoded as its parts between the edges (the same words, so the same ids) and no
 * token can cross an edge; otherwise the library encodes the joined text and its offsets decide.
 */
export class PieceEncoder {
  private readonly words?: WordCacheEncoder;
  private readonly holdsAdded: (text: string) => boolean;

  constructor(private readonly tokenizer: Tokenizer, plan: EncoderPlan) {
    this.words = plan.wordCache ? new WordCacheEncoder(tokenizer, plan) : undefined;
    // The library splits on added tokens before pre-tokenizing, so word edges hold only in text without one.
    this.holdsAdded = addedTokenTest(plan.added);
  }

  async encode(pieces: Piece[]): Promise<EncodedPiece[]> {
    const out: EncodedPiece[] = new Array(pieces.length);
    const byParts: Array<[number, WordParts]> = [];
    const whole: number[] = [];
    for (let i = 0; i < pieces.length; i++) {
      const parts = this.words && !this.holdsAdded(pieces[i].text) ? splitAtWordEdges(pieces[i]) : undefined;
      if (parts) byParts.push([i, parts]);
      else whole.push(i);
    }
    const [partIds, wholeOut] = await Promise.all([
      this.words ? this.words.encodeWordLists(byParts.flatMap(([, parts]) => parts.lists)) : [],
      this.encodeWhole(whole.map((i) => pieces[i])),
    ]);
    let k = 0;
    for (const [i, { lists, trained }] of byParts) {
      let n = 0;
      for (let j = 0; j < lists.length; j++) n += partIds[k + j].length;
      const ids = new Int32Array(n);
      const mask = new Uint8Array(n);
      let at = 0;
      for (let j = 0; j < lists.length; j++, k++) {
        ids.set(partIds[k], at);
        if (trained[j]) mask.fill(1, at, at + partIds[k].length);
        at += partIds[k].length;
      }
      out[i] = { ids, trained: mask };
    }
    whole.forEach((i, j) => (out[i] = wholeOut[j]));
    return out;
  }

  private async encodeWhole(pieces: Piece[]): Promise<EncodedPiece[]> {
    if (!pieces.length) return [];
    const encodings = await this.tokenizer.encodeBatch(pieces.map((p) => p.text), { addSpecialTokens: false });
    return encodings.map((e, i) => {
      const ids = e.getIds();
      const trained = new Uint8Array(ids.length);
      const { spans, length } = codePoints(pieces[i]);
      for (const [s, end] of spans) markSpan(e, ids.length, s, end, length, trained);
      return { ids, trained };
    });
  }
}

/**
 * Marks the tokens whose characters all lie in [s, e): those with s <= start and end <= e. Offsets
 * never go backwards along an encoding (the library maps each token's range of the normalized text
 * back through alignments that keep order, and offset trimming only shrinks a token inside its own
 * range), so those tokens are one run: from the first token starting at or after s to the last one
 * ending at or before e, found by binary search with tokenToChars (a few calls per span, where
 * getOffsets builds an array per token: a third of the library's own encode time).
 */
function markSpan(e: Encoding, n: number, s: number, end: number, textLength: number, trained: Uint8Array): void {
  const startOf = (t: number) => e.tokenToChars(t)![0];
  const endOf = (t: number) => e.tokenToChars(t)![1];
  // First t with start >= s.
  let lo = 0, hi = n;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (startOf(mid) < s) lo = mid + 1;
    else hi = mid;
  }
  const first = lo;
  // First t with end > e: the run ends before it. A span to the end of the text (a response) holds every later token.
  lo = end >= textLength ? n : first, hi = n;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (endOf(mid) <= end) lo = mid + 1;
    else hi = mid;
  }
  if (lo > first) trained.fill(1, first, lo);
}

/** The library's offsets count code points; a piece's spans and length count UTF-16 units. */
function codePoints(piece: Piece): { spans: ReadonlyArray<readonly [number, number]>; length: number } {
  if (!/[\ud800-\udfff]/.test(piece.text)) return { spans: piece.spans, length: piece.text.length };
  const cp = (i: number): number => [...piece.text.slice(0, i)].length;
  return { spans: piece.spans.map(([s, e]) => [cp(s), cp(e)] as const), length: cp(piece.text.length) };
}

/** A piece cut at its span edges: each part's GPT-2 words, and whether the part is trained. */
interface WordParts {
  lists: string[][];
  trained: boolean[];
}

/**
 * The piece's GPT-2 words cut at its span edges when every edge falls between two words of the
 * whole text (so each part is exactly the words the whole has there), else undefined.
 */
function splitAtWordEdges(piece: Piece): WordParts | undefined {
  const words = gpt2Words(piece.text);
  if (!words) return undefined;
  const edges = [...new Set(piece.spans.flat())].filter((x) => x > 0 && x < piece.text.length).sort((a, b) => a - b);
  const cuts = [0, ...edges, piece.text.length];
  const lists: string[][] = [];
  const trained: boolean[] = [];
  let part: string[] = [];
  let at = 0, j = 0; // at: where the next word starts; j: the part being filled is [cuts[j], cuts[j + 1])
  for (const w of words) {
    if (at > cuts[j + 1]) return undefined; // an edge inside the previous word
    if (at === cuts[j + 1] && part.length) {
      lists.push(part);
      trained.push(piece.spans.some(([s, e]) => s <= cuts[j] && cuts[j + 1] <= e));
      part = [];
      j++;
    }
    part.push(w);
    at += w.length;
  }
  if (j !== cuts.length - 2) return undefined; // an edge inside the last word
  if (part.length) {
    lists.push(part);
    trained.push(piece.spans.some(([s, e]) => s <= cuts[j] && cuts[j + 1] <= e));
  }
  return { lists, trained };
}
