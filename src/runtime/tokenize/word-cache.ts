import type { Tokenizer } from 'tokenizers';

/** Token ids for a batch of texts, encoded without the tokenizer's own special tokens. */
export interface IdEncoder {
  encodeBatch(texts: string[]): Promise<ArrayLike<number>[]>;
}

/** The library for every text: always exact, whatever the tokenizer.json holds. */
export function libraryEncoder(tokenizer: Tokenizer): IdEncoder {
  return {
    async encodeBatch(texts) {
      return (await tokenizer.encodeBatch(texts, { addSpecialTokens: false })).map((e) => e.getIds());
    },
  };
}

/**
 * GPT-2's pre-tokenizer regex as the tokenizers library's ByteLevel(use_regex) spells it
 *   's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
 * first for ASCII text, where \p{L} is [A-Za-z], \p{N} is [0-9] and \s is [\t\n\v\f\r ] (the fast
 * common case), then for other text with the library's \s: Unicode White_Space, so U+0085 is one and
 * U+FEFF is not (JavaScript's \s says the opposite). Every character falls in one alternative, so
 * the matches cover the text without gaps.
 */
const GPT2_ASCII = /'s|'t|'re|'ve|'m|'ll|'d| ?[A-Za-z]+| ?[0-9]+| ?[^\t\n\v\f\r A-Za-z0-9]+|[\t\n\v\f\r ]+(?![^\t\n\v\f\r ])|[\t\n\v\f\r ]+/g;
const WS = '\\t-\\r \\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000';
const GPT2_UNICODE = new RegExp(`'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^${WS}\\p{L}\\p{N}]+|[${WS}]+(?![^${WS}])|[${WS}]+`, 'gu');
const NON_ASCII = /[^\x00-\x7f]/;
/**
 * Non-ASCII text the JavaScript regex splits as the library does. V8's Unicode tables are newer than
 * the library's Oniguruma: letters added lately (U+088F, U+0C5C, U+0CDC below U+A000, thousands
 * above) are \p{L} to one and not the other. Accepted: the BMP below U+A000 minus the blocks that
 * hold those (U+0880–U+089F, U+0C00–U+0CFF); no astral character or lone surrogate. A test checks
 * every accepted code point against the library.
 */
const UNICODE_CACHEABLE = /^[\0-\u087f\u08a0-\u0bff\u0d00-\u9fff]*$/;

/** The GPT-2 words of a text, or undefined where only the library can say (see above). */
export function gpt2Words(text: string): string[] | undefined {
  if (!NON_ASCII.test(text)) return text.match(GPT2_ASCII) ?? [];
  if (UNICODE_CACHEABLE.test(text)) return text.match(GPT2_UNICODE) ?? [];
  return undefined;
}

/** Distinct words kept; past this the cache starts over (bounded memory on any data). */
const MAX_WORDS = 1 << 20;

/**
 * Why a tokenizer.json cannot use the word cache, or undefined when it can. The cache is exact only
 * where the library's encoding of a text is the concatenation of its encodings of the text's
 * pre-tokenized words: no normalizer, the ByteLevel pre-tokenizer alone with GPT-2's regex and no
 * prefix space, a deterministic BPE model (no dropout), and a post-processor that adds nothing when
 * special tokens are off and does not trim offsets (pieces.ts masks by offsets; a trimmed offset
 * can move a token across a word edge). Truncation and padding saved in the file are off (load.ts). Added tokens are handled per text
 * (a text containing one goes to the library whole).
 */
export function wordCacheUnsupported(config: Record<string, unknown>): string | undefined {
  const pre = config.pre_tokenizer as Record<string, unknown> | null | undefined;
  const model = config.model as Record<string, unknown> | null | undefined;
  const post = config.post_processor as Record<string, unknown> | null | undefined;
  if (config.normalizer != null) return 'has a normalizer';
  if (pre?.type !== 'ByteLevel') return 'pre-tokenizer is not ByteLevel';
  if (pre.add_prefix_space !== false) return 'ByteLevel adds a prefix space';
  if (pre.use_regex === false) return 'ByteLevel without the GPT-2 regex';
  if (model?.type !== 'BPE') return 'model is not BPE';
  if (model.dropout != null && model.dropout !== 0) return 'BPE dropout';
  if (post != null && !['TemplateProcessing', 'ByteLevel', 'RobertaProcessing', 'BertProcessing'].includes(post.type as string)) {
    return `post-processor ${String(post.type)}`;
  }
  if (post?.trim_offsets === true) return 'post-processor trims offsets';
  return undefined;
}

/**
 * What the encoders need from a tokenizer.json, found once by the stage (a JSON.parse of a 150K-entry
 * file costs ~0.2 s, a scan of its vocabulary as much) and sent to each worker as plain data.
 */
export interface EncoderPlan {
  /** The word cache applies (wordCacheUnsupported says nothing). */
  wordCache: boolean;
  /** The added tokens' texts: the library splits a text on them before pre-tokenizing. */
  added: string[];
  /** A plain added token to join unseen words with (WordCacheEncoder.encodeWords). */
  separator?: AddedToken;
}

export function encoderPlan(config: Record<string, unknown>): EncoderPlan {
  const addedTokens = (config.added_tokens ?? []) as AddedToken[];
  const added = addedTokens.map((t) => t.content).filter((c) => c !== '');
  if (wordCacheUnsupported(config) !== undefined) return { wordCache: false, added };
  // lstrip/rstrip/single_word would take or refuse the neighbouring characters: a plain one splits
  // cleanly, unless its id also names another token of the model's vocabulary.
  const plain = addedTokens.filter((t) => !t.lstrip && !t.rstrip && !t.single_word && t.content !== '');
  const vocab = (config.model as { vocab?: Record<string, number> }).vocab ?? {};
  const byId = new Map(plain.map((t) => [t.id, t]));
  const shared = new Set<number>();
  for (const token in vocab) {
    const t = byId.get(vocab[token]);
    if (t && t.content !== token) shared.add(t.id);
  }
  return { wordCache: true, added, separator: plain.find((t) => !shared.has(t.id)) };
}

/** Whether a text holds one of `added` (few tokens: `includes` each; many: one regex). */
export function addedTokenTest(added: readonly string[]): (text: string) => boolean {
  if (added.length === 0) return () => false;
  if (added.length <= 8) return (text) => added.some((t) => text.includes(t));
  const re = new RegExp(added.map((t) => t.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('|'));
  return (text) => re.test(text);
}

/**
 * Encodes texts by splitting them into GPT-2 words in JavaScript and looking each word up in a
 * cache of the ids the library gave it; only words never seen before go to the library (one
 * encodeBatch per batch). Texts gpt2Words cannot split, or that contain an added token, go to the
 * library whole. Use only where encoderPlan says wordCache.
 */
export class WordCacheEncoder implements IdEncoder {
  private cache = new Map<string, number | number[]>();
  private readonly library: IdEncoder;
  private readonly holdsAdded: (text: string) => boolean;
  private readonly separator?: AddedToken;

  constructor(tokenizer: Tokenizer, plan: EncoderPlan) {
    this.library = libraryEncoder(tokenizer);
    this.holdsAdded = addedTokenTest(plan.added);
    this.separator = plan.separator;
  }

  /** Words held now (tests, bench). */
  get size(): number {
    return this.cache.size;
  }

  async encodeBatch(texts: string[]): Promise<ArrayLike<number>[]> {
    const out: ArrayLike<number>[] = new Array(texts.length);
    const whole: number[] = []; // texts the library encodes whole
    const split: number[] = [];
    const lists: string[][] = [];
    for (let i = 0; i < texts.length; i++) {
      const words = this.holdsAdded(texts[i]) ? undefined : gpt2Words(texts[i]);
      if (!words) {
        whole.push(i);
        continue;
      }
      split.push(i);
      lists.push(words);
    }
    const [wholeIds, listIds] = await Promise.all([this.library.encodeBatch(whole.map((i) => texts[i])), this.encodeWordLists(lists)]);
    whole.forEach((i, k) => (out[i] = wholeIds[k]));
    split.forEach((i, k) => (out[i] = listIds[k]));
    return out;
  }

  /**
   * The ids of each list of words (gpt2Words of a text without added tokens, or a run of them): its
   * words' ids one after another. Words not cached yet go to the library, all of the batch's at once.
   */
  async encodeWordLists(lists: ReadonlyArray<readonly string[]>): Promise<Int32Array[]> {
    // Started over by replacing the map, not clearing it: a batch still awaiting the library (calls
    // overlap) keeps reading the map it started with.
    if (this.cache.size > MAX_WORDS) this.cache = new Map();
    const cache = this.cache;
    const out: Int32Array[] = new Array(lists.length);
    const ids = new IdRuns();
    const waiting: number[] = []; // lists with a word not cached yet
    const unseen = new Set<string>();
    // One pass: a list whose words are all cached is finished here (the common case once warm).
    for (let i = 0; i < lists.length; i++) {
      ids.begin();
      let complete = true;
      for (const word of lists[i]) {
        const hit = cache.get(word);
        if (hit === undefined) {
          unseen.add(word);
          complete = false;
        } else if (complete) ids.push(hit);
      }
      if (complete) out[i] = ids.end();
      else waiting.push(i);
    }
    if (!waiting.length) return out;
    const fresh = [...unseen];
    const freshIds = await this.encodeWords(fresh);
    fresh.forEach((word, k) => {
      const wordIds = freshIds[k];
      cache.set(word, wordIds.length === 1 ? wordIds[0] : Array.from(wordIds));
    });
    for (const i of waiting) {
      ids.begin();
      for (const word of lists[i]) ids.push(cache.get(word)!);
      out[i] = ids.end();
    }
    return out;
  }

  /**
   * Each word's ids, as the library encodes the word alone. The library splits a text on added tokens
   * before pre-tokenizing, and the words hold none, so "w1 SEP w2 SEP ..." encodes every word on its
   * own with SEP's id between them: one Encoding per 512 words instead of one per word. Should an
   * added token match across a word's edge it would swallow a separator; a chunk whose separator count
   * is off is encoded word by word instead.
   */
  private async encodeWords(words: string[]): Promise<ArrayLike<number>[]> {
    const sep = this.separator;
    if (!sep || words.length < 2) return this.library.encodeBatch(words);
    const chunks: string[][] = [];
    for (let i = 0; i < words.length; i += 512) chunks.push(words.slice(i, i + 512));
    const joined = await this.library.encodeBatch(chunks.map((c) => c.join(sep.content)));
    const out: ArrayLike<number>[] = [];
    for (let k = 0; k < chunks.length; k++) {
      const runs: number[][] = [[]];
      for (const id of Array.from(joined[k])) {
        if (id === sep.id) runs.push([]);
        else runs[runs.length - 1].push(id);
      }
      out.push(...(runs.length === chunks[k].length ? runs : await this.library.encodeBatch(chunks[k])));
    }
    return out;
  }
}

/** An entry of tokenizer.json's added_tokens. */
export interface AddedToken {
  id: number;
  content: string;
  lstrip?: boolean;
  rstrip?: boolean;
  single_word?: boolean;
}

/**
 * The ids of many texts written one after another into shared Int32Array chunks: each text's ids
 * are a subarray view, so a batch allocates a few chunks instead of an array per text.
 */
class IdRuns {
  private buf = new Int32Array(1 << 16);
  private used = 0;
  private start = 0;

  begin(): void {
    this.start = this.used;
  }

  push(ids: number | readonly number[]): void {
    const n = typeof ids === 'number' ? 1 : ids.length;
    if (this.used + n > this.buf.length) {
      // A fresh chunk; the run so far moves with it (views handed out keep the old chunk alive).
      const run = this.buf.subarray(this.start, this.used);
      const next = new Int32Array(Math.max(this.buf.length, 2 * (run.length + n)));
      next.set(run);
      this.buf = next;
      this.used = run.length;
      this.start = 0;
    }
    if (typeof ids === 'number') this.buf[this.used++] = ids;
    else for (let k = 0; k < n; k++) this.buf[this.used++] = ids[k];
  }

  end(): Int32Array {
    return this.buf.subarray(this.start, this.used);
  }
}

/** The word cache where the tokenizer.json allows it (see encoderPlan), else the library. */
export function idEncoder(tokenizer: Tokenizer, plan: EncoderPlan): IdEncoder {
  return plan.wordCache ? new WordCacheEncoder(tokenizer, plan) : libraryEncoder(tokenizer);
}
