import type { Tokenizer } from 'tokenizers';
import { gpt2Words, idEncoder, WordCacheEncoder, type AddedToken, type IdEncoder } from './word-cache.js';

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
  private readonly words: IdEncoder;
  private readonly cached: boolean;
  private readonly added: string[];

  constructor(private readonly tokenizer: Tokenizer, tokenizerJson: string) {
    this.words = idEncoder(tokenizer, tokenizerJson);
    this.cached = this.words instanceof WordCacheEncoder;
    // The library splits on added tokens before pre-tokenizing, so word edges hold only in text without one.
    this.added = ((JSON.parse(tokenizerJson) as { added_tokens?: AddedToken[] }).added_tokens ?? []).map((t) => t.content).filter((c) => c !== '');
  }

  async encode(pieces: Piece[]): Promise<EncodedPiece[]> {
    const out: EncodedPiece[] = new Array(pieces.length);
    const byParts: Array<[number, string[], boolean[]]> = [];
    const whole: number[] = [];
    for (let i = 0; i < pieces.length; i++) {
      const parts = this.cached && !this.added.some((t) => pieces[i].text.includes(t)) ? splitAtWordEdges(pieces[i]) : undefined;
      if (parts) byParts.push([i, parts.texts, parts.trained]);
      else whole.push(i);
    }
    const [partIds, wholeOut] = await Promise.all([
      this.words.encodeBatch(byParts.flatMap(([, texts]) => texts)),
      this.encodeWhole(whole.map((i) => pieces[i])),
    ]);
    let k = 0;
    for (const [i, texts, trained] of byParts) {
      let n = 0;
      for (let j = 0; j < texts.length; j++) n += partIds[k + j].length;
      const ids = new Int32Array(n);
      const mask = new Uint8Array(n);
      let at = 0;
      for (let j = 0; j < texts.length; j++, k++) {
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
      const offsets = e.getOffsets();
      const spans = codePointSpans(pieces[i]);
      const trained = new Uint8Array(ids.length);
      for (let t = 0; t < ids.length; t++) {
        const [start, end] = offsets[t];
        trained[t] = spans.some(([s, e]) => s <= start && end <= e) ? 1 : 0;
      }
      return { ids, trained };
    });
  }
}

/** The library's offsets count code points; a piece's spans count UTF-16 units. */
function codePointSpans(piece: Piece): Array<[number, number]> {
  if (!/[\ud800-\udfff]/.test(piece.text)) return piece.spans.map(([s, e]) => [s, e]);
  const cp = (i: number): number => [...piece.text.slice(0, i)].length;
  return piece.spans.map(([s, e]) => [cp(s), cp(e)]);
}

/**
 * The piece cut at its span edges when every edge falls between two GPT-2 words of the whole text
 * (so each part pre-tokenizes to exactly the words the whole has there), else undefined.
 */
function splitAtWordEdges(piece: Piece): { texts: string[]; trained: boolean[] } | undefined {
  const edges = [...new Set(piece.spans.flat())].filter((x) => x > 0 && x < piece.text.length).sort((a, b) => a - b);
  const words = gpt2Words(piece.text);
  if (!words) return undefined;
  const wordEdges = new Set<number>();
  let at = 0;
  for (const w of words) wordEdges.add((at += w.length));
  if (!edges.every((x) => wordEdges.has(x))) return undefined;
  const cuts = [0, ...edges, piece.text.length];
  const texts: string[] = [];
  const trained: boolean[] = [];
  for (let j = 0; j + 1 < cuts.length; j++) {
    if (cuts[j] === cuts[j + 1]) continue;
    texts.push(piece.text.slice(cuts[j], cuts[j + 1]));
    trained.push(piece.spans.some(([s, e]) => s <= cuts[j] && cuts[j + 1] <= e));
  }
  return { texts, trained };
}
