import { existsSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { FtcError } from '../../errors.js';
import { readJsonl } from '../data/jsonl.js';
import type { StageContext, StageImpl, StageSummary } from '../stage.js';
import { assemble, Packer, type AssembleOptions } from '../tokenize/assemble.js';
import { DATASET_FORMAT, idBytesFor, SplitWriter, writeMeta, type TokenDatasetMeta } from '../tokenize/dataset.js';
import { loadTokenizerFile, trainTokenizer, type LoadedTokenizer } from '../tokenize/load.js';
import { PieceEncoder, type EncodedPiece, type Piece } from '../tokenize/pieces.js';
import { addedSpecials } from '../tokenize/specials.js';
import { HELD_OUT_MAX, heldOutText, writeHeldOutPrompts } from '../tokenize/held-out.js';
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
}

/**
 * Examples per encode call. With the word cache 512, 2048 and 8192 measured alike (CPU time within
 * noise on the 100 MB bench); large enough that a batch's unseen words make few library calls.
 */
const BATCH = 2048;

async function* examplesOf(file: string): AsyncGenerator<Example[]> {
  let batch: Example[] = [];
  if (!existsSync(file)) return;
  for await (const item of readJsonl(file)) {
    if (item.error !== undefined) throw new Error(`${file}:${item.row}: ${item.error}`); // verified artifact
    batch.push(item.value as Example);
    if (batch.length === BATCH) {
      yield batch;
      batch = [];
    }
  }
  if (batch.length) yield batch;
}

async function obtainTokenizer(p: TokenizerParams, ctx: StageContext, trainFile: string): Promise<LoadedTokenizer> {
  if ((p.vocab === undefined) === (p.train === undefined)) {
    throw new FtcError(
      'E_TOKENIZER_PARAMS',
      `tokenizer \`${ctx.stage.name}\` needs exactly one of vocab (a tokenizer.json to load) or train { vocab_size = ... }`,
      undefined,
      'e.g. vocab = "models/tiny-llama/tokenizer.json"',
    );
  }
  if (p.vocab !== undefined) return loadTokenizerFile(resolve(ctx.pipeline.dir, p.vocab), p.vocab);
  const texts: string[] = [];
  for await (const batch of examplesOf(trainFile)) for (const e of batch) texts.push(e.prompt + e.response);
  ctx.log.info(`training a byte-level BPE tokenizer on ${texts.length} examples`);
  return trainTokenizer(texts, p.train?.vocab_size ?? 4096, p.train?.min_frequency ?? 2);
}

/** The text an example is encoded as and the spans trained on: the response, or each assistant turn. */
function pieceOf(e: Example): Piece {
  const text = e.prompt + e.response;
  return { text, spans: e.turns ?? [[e.prompt.length, text.length]] };
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
 * (tokenize/word-cache.ts: the library's exact ids, asked only for unseen words); a batch's library
 * work runs in the Rust pool while the previous one is assembled.
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
    const added = await addedSpecials(tokenizer, JSON.parse(loaded.json) as Record<string, unknown>, loaded.file);
    if (p.add_bos === true && !specials.bos) ctx.log.warn('add_bos = true but the tokenizer has no BOS token; examples start without one');
    if (p.add_eos !== false && !specials.eos) ctx.log.warn('the tokenizer has no EOS token; examples end without one');
    const bos = specials.bos ? [specials.bos.id] : [];
    const templateOptions = {
      prefix: p.add_bos === undefined ? added.prefix : p.add_bos ? bos : [],
      suffix: p.add_eos === false ? [] : added.suffix,
      eosId: p.add_eos === false ? undefined : specials.eos?.id,
    };
    const chatOptions = { prefix: p.add_bos === true ? bos : [], suffix: [], eosId: p.add_eos === true ? specials.eos?.id : undefined };
    const base = { maxLength, truncation: p.truncation ?? true, trainOnInputs: p.train_on_inputs ?? false };
    const optionsFor = (e: Example): AssembleOptions => {
      const o = e.turns ? chatOptions : templateOptions;
      // An explicit add_bos never doubles a BOS the text already starts with (a chat template writes one).
      if (p.add_bos === true && specials.bos && e.prompt.startsWith(specials.bos.text)) return { ...base, ...o, prefix: [] };
      return { ...base, ...o };
    };
    let truncated = 0, tooLong = 0, noResponse = 0;
    const progress = ctx.log.progress('tokenizing');
    let done = 0;

    const encoder = new PieceEncoder(tokenizer, loaded.json);
    type Encoded = [Example[], EncodedPiece[]];
    const encode = async (batch: Example[]): Promise<Encoded> => [batch, await encoder.encode(batch.map(pieceOf))];

    const vocabSize = tokenizer.getVocabSize(true);
    const idBytes = idBytesFor(vocabSize);
    const splits: TokenDatasetMeta['splits'] = {};
    const heldOut: Example[] = []; // the eval split's first kept examples, for generation (held-out.ts)
    for (const [name, file] of [['train', TRAIN_FILE], ['eval', EVAL_FILE]] as const) {
      const writer = new SplitWriter(ctx.outDir, name, packed, idBytes);
      const packer = packed ? new Packer(writer, maxLength) : undefined;
      const take = ([batch, encodings]: Encoded) => {
        for (let i = 0; i < batch.length; i++) {
          const ex = assemble(encodings[i], optionsFor(batch[i]));
          if ('drop' in ex) {
            if (ex.drop === 'too_long') tooLong++;
            else noResponse++;
            continue;
          }
          if (ex.truncated) truncated++;
          if (name === 'eval' && heldOut.length < HELD_OUT_MAX) heldOut.push(batch[i]);
          if (packer) packer.add(ex.ids, ex.labels);
          else writer.add(ex.ids, ex.labels);
        }
        done += batch.length;
        progress.update(done);
      };
      let pending: Promise<Encoded> | undefined;
      for await (const batch of examplesOf(join(input.dir, file))) {
        const next = encode(batch); // starts in the Rust pool while the previous batch is assembled
        if (pending) take(await pending);
        pending = next;
      }
      if (pending) take(await pending);
      packer?.flush();
      splits[name] = writer.close();
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
    // Each prompt encoded alone, as a generation encodes it: the example's prefix, then the text (no trained spans).
    const texts = heldOut.map(heldOutText);
    const encoded = await encoder.encode(texts.map((t) => ({ text: t.prompt, spans: [] })));
    writeHeldOutPrompts(ctx.outDir, texts.map((t, i) => ({ ...t, prompt_ids: [...optionsFor(heldOut[i]!).prefix, ...Array.from(encoded[i]!.ids)] })));
    writeFileSync(join(ctx.outDir, 'tokenizer.json'), loaded.json);
    const dropped = tooLong + noResponse;
    if (dropped) ctx.log.warn(`dropped ${dropped} example${dropped === 1 ? '' : 's'}: ${tooLong} longer than max_length = ${maxLength}, ${noResponse} with no response tokens left after truncation`);
    return { rows: splits.train.examples, tokens: splits.train.tokens, eval_rows: splits.eval.examples, truncated, dropped };
  },
};
