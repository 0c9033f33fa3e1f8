import { existsSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { FtcError } from '../../errors.js';
import { readJsonl } from '../data/jsonl.js';
import { readLines } from '../data/lines.js';
import type { StageContext, StageImpl, StageSummary } from '../stage.js';
import { Packer } from '../tokenize/assemble.js';
import { DATASET_FORMAT, idBytesFor, SplitWriter, writeMeta, type TokenDatasetMeta } from '../tokenize/dataset.js';
import { loadTokenizerFile, trainTokenizer, type LoadedTokenizer } from '../tokenize/load.js';
import { resolveTokenizerWorkers, TokenizerPool } from '../tokenize/pool.js';
import { RowTokenizer, type RowBatch, type RowRules, type TokenizedBatch } from '../tokenize/rows.js';
import { addedSpecials } from '../tokenize/specials.js';
import { HELD_OUT_MAX, writeHeldOutPrompts, type HeldOutPrompt } from '../tokenize/held-out.js';
import { encoderPlan } from '../tokenize/word-cache.js';
import { EVAL_FILE, TRAIN_FILE, type Example } from './preprocess.js';

interface TokenizerParams {
  input: string;
  vocab?: string;
  train?: { vocab_size?: number; min_frequency?: number };
  max_length?: number;
  truncation?: boolean;
  add_bos?: boolean;
  add_eos?: boolean;
  train_on_inputs?: boolean;
  packing?: boolean;
  workers?: number | 'auto';
}

/**
 * Examples per encode call. With the word cache 512, 2048 and 8192 measured alike (CPU time within
 * noise on the 100 MB bench); large enough that a batch's unseen words make few library calls.
 */
const BATCH = 2048;

/**
 * A preprocess artifact file's non-blank lines in batches, with their line numbers: BATCH rows, or
 * fewer once a batch holds `maxChars` characters (with several threads, so that a small input still
 * gives each thread several batches).
 */
async function* batchesOf(file: string, maxChars = Infinity): AsyncGenerator<RowBatch> {
  if (!existsSync(file)) return;
  let batch: RowBatch = { file, lines: [], rows: [] };
  let chars = 0;
  for await (const { text, line } of readLines(file)) {
    if (text.trim() === '') continue; // as readJsonl: blank lines are no rows
    batch.lines.push(text);
    batch.rows.push(line);
    chars += text.length;
    if (batch.lines.length === BATCH || chars >= maxChars) {
      yield batch;
      batch = { file, lines: [], rows: [] };
      chars = 0;
    }
  }
  if (batch.lines.length) yield batch;
}

async function* examplesOf(file: string): AsyncGenerator<Example> {
  if (!existsSync(file)) return;
  for await (const item of readJsonl(file)) {
    if (item.error !== undefined) throw new Error(`${file}:${item.row}: ${item.error}`); // verified artifact
    yield item.value as Example;
  }
}

async function obtainTokenizer(p: TokenizerParams, ctx: StageContext, trainFile: string): Promise<LoadedTokenizer> {
  // `ftc check` refuses both (E0308) and neither (E0309) before any stage runs: this is an invariant, not a user error.
  if ((p.vocab === undefined) === (p.train === undefined)) throw new Error(`tokenizer ${ctx.stage.name}: exactly one of vocab or train must be set (validation admitted the stage)`);
  if (p.vocab !== undefined) return loadTokenizerFile(resolve(ctx.pipeline.dir, p.vocab), p.vocab);
  const texts: string[] = [];
  for await (const e of examplesOf(trainFile)) texts.push(e.prompt + e.response);
  ctx.log.info(`training a byte-level BPE tokenizer on ${texts.length} examples`);
  return trainTokenizer(texts, p.train?.vocab_size ?? 4096, p.train?.min_frequency ?? 2);
}

/**
 * Tokenizes the preprocess stage's splits into the binary dataset of tokenize/dataset.ts.
 * Each example's prompt and response are encoded joined (tokenize/pieces.ts, which also says which
 * tokens are trained), then assembled with special tokens, label masking, truncation and optional
 * packing. Special tokens follow transformers: around a template's text, what `tokenizer(text)`
 * adds (specials.ts: the post-processor, or tokenizer_config.json's add_bos_token/add_eos_token),
 * then EOS after the response as Stanford Alpaca and axolotl append it; a chat template's text
 * gets none, as apply_chat_template encodes it (the template writes BOS and end-of-turn itself).
 * add_bos/add_eos in the pipeline override both. Byte-level BPE tokenizers go through a word cache
 * (tokenize/word-cache.ts: the library's exact ids, asked only for unseen words). Batches of rows
 * are encoded on worker threads when the input is large enough (`workers`, tokenize/pool.ts) and
 * written in row order, so the artifact is the same bytes whatever the thread count; on one thread
 * a batch's library work runs in the Rust pool while the previous one is written.
 */
export const tokenizerStage: StageImpl = {
  kind: 'tokenizer',
  version: 3,
  async run(ctx: StageContext): Promise<StageSummary> {
    const p = ctx.stage.params as unknown as TokenizerParams;
    const input = ctx.inputs[p.input];
    if (!input) throw new Error(`tokenizer ${ctx.stage.name}: upstream artifact ${p.input} missing`);
    const loaded = await obtainTokenizer(p, ctx, join(input.dir, TRAIN_FILE));
    const { tokenizer, specials } = loaded;
    const maxLength = p.max_length ?? 512;
    const packed = p.packing ?? false;
    // The one JSON.parse of the tokenizer.json in this stage: workers get what they need in `rules`.
    const config = JSON.parse(loaded.json) as Record<string, unknown>;
    const added = await addedSpecials(tokenizer, config, loaded.file);
    if (p.add_bos === true && !specials.bos) ctx.log.warn('add_bos = true but the tokenizer has no BOS token; examples start without one');
    if (p.add_eos !== false && !specials.eos) ctx.log.warn('the tokenizer has no EOS token; examples end without one');
    const bos = specials.bos ? [specials.bos.id] : [];
    const base = { maxLength, truncation: p.truncation ?? true, trainOnInputs: p.train_on_inputs ?? false };
    const rules: RowRules = {
      template: {
        ...base,
        prefix: p.add_bos === undefined ? added.prefix : p.add_bos ? bos : [],
        suffix: p.add_eos === false ? [] : added.suffix,
        eosId: p.add_eos === false ? undefined : specials.eos?.id,
      },
      chat: { ...base, prefix: p.add_bos === true ? bos : [], suffix: [], eosId: p.add_eos === true ? specials.eos?.id : undefined },
      bosText: p.add_bos === true ? specials.bos?.text : undefined,
      encoder: encoderPlan(config),
    };
    let truncated = 0, tooLong = 0, noResponse = 0;

    const files = [['train', join(input.dir, TRAIN_FILE)], ['eval', join(input.dir, EVAL_FILE)]] as const;
    const inputBytes = files.reduce((sum, [, f]) => sum + (existsSync(f) ? statSync(f).size : 0), 0);
    const threads = resolveTokenizerWorkers(p.workers, inputBytes, rules.encoder.wordCache);
    const local = new RowTokenizer(tokenizer, rules);
    const pool = threads > 1 ? TokenizerPool.start(threads, { json: loaded.json, rules }, local) : undefined;
    const encode = (batch: RowBatch) => (pool ? pool.tokenize(batch) : local.tokenize(batch));
    // Batches in flight: one ahead on this thread (the library's Rust pool encodes it while the
    // previous one is written), two per worker (none waits for its next batch).
    const ahead = pool ? 2 * threads : 2;
    if (pool) ctx.log.info(`tokenizing on ${threads} threads`);
    const progress = ctx.log.progress('tokenizing');
    let done = 0;

    const vocabSize = tokenizer.getVocabSize(true);
    const idBytes = idBytesFor(vocabSize);
    const splits: TokenDatasetMeta['splits'] = {};
    const heldOut: HeldOutPrompt[] = []; // the eval split's first kept examples, as generation asks them (held-out.ts)
    try {
      for (const [name, file] of files) {
        const writer = new SplitWriter(ctx.outDir, name, packed, idBytes);
        const packer = packed ? new Packer(writer, maxLength) : undefined;
        const take = (b: TokenizedBatch) => {
          let at = 0;
          for (const n of b.lengths) {
            const ids = b.ids.subarray(at, at + n), labels = b.labels.subarray(at, at + n);
            if (packer) packer.add(ids, labels);
            else writer.add(ids, labels);
            at += n;
          }
          truncated += b.truncated;
          tooLong += b.tooLong;
          noResponse += b.noResponse;
          heldOut.push(...b.heldOut.slice(0, HELD_OUT_MAX - heldOut.length));
          progress.update((done += b.rows));
        };
        // Asked in row order and taken in row order: the first failing row's error is the one thrown.
        const inFlight: Array<Promise<TokenizedBatch>> = [];
        for await (const batch of batchesOf(file, pool ? inputBytes / (4 * threads) : Infinity)) {
          // Each prompt encoded alone where the batch is encoded, until enough are on hand (a batch in
          // flight may bring more than needed; the surplus is dropped in take).
          batch.heldOut = name === 'eval' && heldOut.length < HELD_OUT_MAX;
          const next = encode(batch);
          next.catch(() => {}); // awaited below, in order; a later batch's failure must not go unhandled meanwhile
          inFlight.push(next);
          if (inFlight.length >= ahead) take(await inFlight.shift()!);
        }
        while (inFlight.length) take(await inFlight.shift()!);
        packer?.flush();
        splits[name] = writer.close();
      }
    } finally {
      await pool?.close();
    }
    progress.done();

    if (splits.train.examples === 0) {
      throw new FtcError(
        'E_TOKENIZER_EMPTY',
        `tokenizer \`${ctx.stage.name}\`: no training examples left (${tooLong} longer than max_length = ${maxLength} with truncation off, ${noResponse} whose response did not fit)`,
        undefined,
        'raise max_length, or set truncation = true',
      );
    }
    const meta: TokenDatasetMeta = {
      format: DATASET_FORMAT,
      vocab_size: vocabSize,
      id_bytes: idBytes,
      bos_id: specials.bos?.id ?? null,
      eos_id: specials.eos?.id ?? null,
      pad_id: specials.pad?.id ?? null,
      max_length: maxLength,
      packed,
      train_on_inputs: base.trainOnInputs,
      added_specials: { prefix: [...added.prefix], suffix: [...added.suffix] },
      splits,
      tokenizer_sha256: loaded.sha256,
    };
    writeMeta(ctx.outDir, meta);
    writeHeldOutPrompts(ctx.outDir, heldOut);
    writeFileSync(join(ctx.outDir, 'tokenizer.json'), loaded.json);
    const dropped = tooLong + noResponse;
    if (dropped) ctx.log.warn(`dropped ${dropped} example${dropped === 1 ? '' : 's'}: ${tooLong} longer than max_length = ${maxLength}, ${noResponse} with no response tokens left after truncation`);
    return { rows: splits.train.examples, tokens: splits.train.tokens, eval_rows: splits.eval.examples, truncated, dropped };
  },
};
