import { HELD_OUT_MAX, heldOutText, type HeldOutPrompt } from './held-out.js';
import type { Tokenizer } from 'tokenizers';
import type { Example } from '../stages/preprocess.js';
import { assemble, type AssembleOptions } from './assemble.js';
import { PieceEncoder, type Piece } from './pieces.js';
import type { EncoderPlan } from './word-cache.js';

/**
 * What the tokenizer stage decides once (from the tokenizer and the pipeline) and every thread then
 * applies to each example: plain data, so it can travel to a worker thread.
 */
export interface RowRules {
  /** Prompt/response examples. */
  template: AssembleOptions;
  /** Chat examples (they carry turns): the template wrote their special tokens. */
  chat: AssembleOptions;
  /** add_bos = true: a text already starting with this (the BOS token's text) gets no second BOS. */
  bosText?: string;
  /** What the encoders need from the tokenizer.json (word-cache.ts), so no thread parses it again. */
  encoder: EncoderPlan;
}

/** Consecutive non-blank lines of a preprocess artifact file; `rows` are their 1-based line numbers. */
export interface RowBatch {
  file: string;
  lines: string[];
  rows: number[];
  /** Encode the held-out prompts of the batch's first kept examples (the eval split's batches). */
  heldOut?: boolean;
}

/**
 * A batch's examples, ready for the split writer in row order. Kept examples are concatenated: the
 * k-th has `lengths[k]` ids (and labels) after the previous ones. Counts say what was cut or dropped.
 */
export interface TokenizedBatch {
  rows: number;
  lengths: Uint32Array;
  ids: Int32Array;
  labels: Int32Array;
  truncated: number;
  tooLong: number;
  noResponse: number;
  /** With `heldOut`: the batch's first kept examples (at most HELD_OUT_MAX) as generation prompts (held-out.ts). */
  heldOut: HeldOutPrompt[];
}

/** The text an example is encoded as and the spans trained on: the response, or each assistant turn. */
function pieceOf(e: Example): Piece {
  const text = e.prompt + e.response;
  return { text, spans: e.turns ?? [[e.prompt.length, text.length]] };
}

/**
 * Parses, encodes (pieces.ts) and assembles (assemble.ts) one batch of rows. The same code runs on
 * the stage's thread and in each worker (tokenize/pool.ts), and an example's tokens depend on that
 * example alone (the word cache returns the library's ids whatever it already holds), so any split
 * of the rows into batches and threads gives the same tokens in the same order.
 */
export class RowTokenizer {
  private readonly encoder: PieceEncoder;

  constructor(tokenizer: Tokenizer, private readonly rules: RowRules) {
    this.encoder = new PieceEncoder(tokenizer, rules.encoder);
  }

  async tokenize(batch: RowBatch): Promise<TokenizedBatch> {
    const examples = batch.lines.map((line, i) => parseExample(line, batch.file, batch.rows[i]));
    const encodings = await this.encoder.encode(examples.map(pieceOf));
    const kept: Array<{ ids: Int32Array; labels: Int32Array }> = [];
    const firstKept: Example[] = [];
    let truncated = 0, tooLong = 0, noResponse = 0, total = 0;
    for (let i = 0; i < examples.length; i++) {
      const ex = assemble(encodings[i], this.optionsFor(examples[i]));
      if ('drop' in ex) {
        if (ex.drop === 'too_long') tooLong++;
        else noResponse++;
        continue;
      }
      if (ex.truncated) truncated++;
      kept.push(ex);
      if (batch.heldOut && firstKept.length < HELD_OUT_MAX) firstKept.push(examples[i]!);
      total += ex.ids.length;
    }
    const lengths = new Uint32Array(kept.length);
    const ids = new Int32Array(total);
    const labels = new Int32Array(total);
    let at = 0;
    kept.forEach((ex, k) => {
      lengths[k] = ex.ids.length;
      ids.set(ex.ids, at);
      labels.set(ex.labels, at);
      at += ex.ids.length;
    });
    const heldOut = firstKept.length ? await this.heldOutPrompts(firstKept) : [];
    return { rows: examples.length, lengths, ids, labels, truncated, tooLong, noResponse, heldOut };
  }

  /** Each example's prompt encoded alone, as a generation encodes it: its prefix (BOS), then the text, no trained spans. */
  private async heldOutPrompts(examples: readonly Example[]): Promise<HeldOutPrompt[]> {
    const texts = examples.map(heldOutText);
    const encoded = await this.encoder.encode(texts.map((t) => ({ text: t.prompt, spans: [] })));
    return texts.map((t, i) => ({ ...t, prompt_ids: [...this.optionsFor(examples[i]!).prefix, ...Array.from(encoded[i]!.ids)] }));
  }

  private optionsFor(e: Example): AssembleOptions {
    const o = e.turns ? this.rules.chat : this.rules.template;
    // An explicit add_bos never doubles a BOS the text already starts with (a chat template writes one).
    if (this.rules.bosText !== undefined && e.prompt.startsWith(this.rules.bosText)) return { ...o, prefix: [] };
    return o;
  }
}

/** One line of a preprocess artifact; that artifact passed its manifest check, so a bad line is a broken invariant. */
function parseExample(line: string, file: string, row: number): Example {
  let value: Partial<Example> | null;
  try {
    value = JSON.parse(line) as Partial<Example> | null;
  } catch (e) {
    throw new Error(`${file}:${row}: invalid JSON: ${(e as Error).message}`);
  }
  if (typeof value?.prompt !== 'string' || typeof value.response !== 'string' || (value.turns !== undefined && !Array.isArray(value.turns))) {
    throw new Error(`${file}:${row}: not an example (a prompt and a response string, optional turns)`);
  }
  return value as Example;
}
