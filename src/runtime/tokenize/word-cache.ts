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
 * restricted to ASCII text, where \p{L} is [A-Za-z], \p{N} is [0-9] and \s is [\t\n\v\f\r ]
 * (test/runtime/tokenize/word-cache.test.ts checks every ASCII character against the library).
 * Every ASCII character falls in one alternative, so the matches cover the text without gaps.
 */
const GPT2_ASCII = /'s|'t|'re|'ve|'m|'ll|'d| ?[A-Za-z]+| ?[0-9]+| ?[^\t\n\v\f\r A-Za-z0-9]+|[\t\n\v\f\r ]+(?![^\t\n\v\f\r ])|[\t\n\v\f\r ]+/g;
const NON_ASCII = /[^\x00-\x7f]/;

/** Distinct words kept; past this the cache starts over (bounded memory on any data). */
const MAX_WORDS = 1 << 20;

/**
 * Why a tokenizer.json cannot use the word cache, or undefined when it can. The cache is exact only
 * where the library's encoding of a text is the concatenation of its encodings of the text's
 * pre-tokenized words: no normalizer, the ByteLevel pre-tokenizer alone with GPT-2's regex and no
 * prefix space, a deterministic BPE model (no dropout), no truncation or padding, and a
 * post-processor that adds nothing when special tokens are off. Added tokens are handled per text
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
  if (config.truncation != null || config.padding != null) return 'truncation or padding set in tokenizer.json';
  if (post != null && !['TemplateProcessing', 'ByteLevel', 'RobertaProcessing', 'BertProcessing'].includes(post.type as string)) {
    return `post-processor ${String(post.type)}`;
  }
  return undefined;
}

/**
 * Encodes ASCII texts by splitting them into GPT-2 words in JavaScript and looking each word up in a
 * cache of the ids the library gave it; only words never seen before go to the library (one
 * encodeBatch per batch). Texts that are not ASCII, or that contain an added token, go to the library
 * whole. Use only when wordCacheUnsupported(config) is undefined.
 */
export class WordCacheEncoder implements IdEncoder {
  private readonly cache = new Map<string, number | number[]>();
  private readonly library: IdEncoder;

  constructor(tokenizer: Tokenizer, private readonly addedTokens: readonly string[]) {
    this.library = libraryEncoder(tokenizer);
  }

  /** Words held now (tests, bench). */
  get size(): number {
    return this.cache.size;
  }

  async encodeBatch(texts: string[]): Promise<ArrayLike<number>[]> {
    if (this.cache.size > MAX_WORDS) this.cache.clear(); // only between batches: a batch's words stay
    const out: ArrayLike<number>[] = new Array(texts.length);
    const words: (string[] | undefined)[] = new Array(texts.length);
    const whole: number[] = [];
    const unseen = new Set<string>();
    for (let i = 0; i < texts.length; i++) {
      const text = texts[i];
      if (NON_ASCII.test(text) || this.addedTokens.some((t) => text.includes(t))) {
        whole.push(i);
        continue;
      }
      const w = text.match(GPT2_ASCII) ?? [];
      for (const word of w) if (!this.cache.has(word)) unseen.add(word);
      words[i] = w;
    }
    const fresh = [...unseen];
    const [wholeIds, freshIds] = await Promise.all([
      this.library.encodeBatch(whole.map((i) => texts[i])),
      this.library.encodeBatch(fresh),
    ]);
    whole.forEach((i, k) => (out[i] = wholeIds[k]));
    fresh.forEach((word, k) => {
      const ids = freshIds[k];
      this.cache.set(word, ids.length === 1 ? ids[0] : Array.from(ids));
    });
    for (let i = 0; i < texts.length; i++) {
      const w = words[i];
      if (!w) continue;
      const ids: number[] = [];
      for (const word of w) {
        const hit = this.cache.get(word)!;
        if (typeof hit === 'number') ids.push(hit);
        else for (let k = 0; k < hit.length; k++) ids.push(hit[k]);
      }
      out[i] = ids;
    }
    return out;
  }
}

/** The word cache where the tokenizer.json allows it (see wordCacheUnsupported), else the library. */
export function idEncoder(tokenizer: Tokenizer, tokenizerJson: string): IdEncoder {
  const config = JSON.parse(tokenizerJson) as Record<string, unknown>;
  if (wordCacheUnsupported(config) !== undefined) return libraryEncoder(tokenizer);
  const added = ((config.added_tokens ?? []) as Array<{ content: string }>).map((t) => t.content);
  return new WordCacheEncoder(tokenizer, added);
}
