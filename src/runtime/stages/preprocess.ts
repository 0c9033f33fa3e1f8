import { createHash } from 'node:crypto';
import { join, resolve } from 'node:path';
import { FtcError } from '../../errors.js';
import { readJsonl } from '../data/jsonl.js';
import { JsonlWriter } from '../data/jsonl-writer.js';
import type { DataRecord } from '../data/types.js';
import { chatRenderer } from '../preprocess/chat.js';
import { seededShuffle } from '../random.js';
import { SpillFile } from '../preprocess/spill.js';
import { alpacaRenderer, templateRenderer, type Renderer } from '../preprocess/template.js';
import type { Artifact, StageContext, StageImpl, StageSummary } from '../stage.js';
import { RECORDS_FILE } from './data.js';

/** The preprocess stage's artifact: `{prompt, response}` JSON lines per split. */
export const TRAIN_FILE = 'train.jsonl';
export const EVAL_FILE = 'eval.jsonl';

interface PreprocessParams {
  input: string;
  template?: 'custom' | 'alpaca' | 'chat';
  prompt?: string;
  response?: string;
  messages_field?: string;
  chat_template?: string;
  train_on?: 'all_turns' | 'last_turn';
  min_length?: number;
  max_length?: number;
  dedupe?: boolean;
  shuffle?: boolean;
  eval_split?: number;
  seed?: number;
}

export interface Example {
  prompt: string;
  response: string;
  /**
   * Chat only: the [start, end) spans of prompt + response (UTF-16 indices) to train on, one per
   * assistant turn. Its presence also says that the text came from a chat template, which writes
   * its own special tokens.
   */
  turns?: Array<[number, number]>;
}

/** The records of an upstream data or preprocess artifact, streamed in order. */
export async function* upstreamRecords(input: Artifact): AsyncGenerator<DataRecord> {
  const files = input.kind === 'preprocess' ? [TRAIN_FILE, EVAL_FILE] : [RECORDS_FILE];
  for (const name of files) {
    for await (const item of readJsonl(join(input.dir, name))) {
      // The artifact passed its manifest check, so a bad line is a broken invariant, not user data.
      if (item.error !== undefined) throw new Error(`${input.dir}/${name}:${item.row}: ${item.error}`);
      yield item.value as DataRecord;
    }
  }
}

function makeRenderer(p: PreprocessParams, ctx: StageContext): Renderer {
  const template = p.template ?? 'custom';
  if (template === 'alpaca') {
    if (p.prompt !== undefined) ctx.log.warn('template = alpaca uses the Alpaca prompt; the `prompt` template is ignored');
    return alpacaRenderer(p.response);
  }
  if (template === 'chat') {
    if (!p.chat_template) {
      throw new FtcError('E_PREPROCESS_PARAMS', `preprocess \`${ctx.stage.name}\`: template = chat needs chat_template (a tokenizer_config.json)`);
    }
    return chatRenderer(resolve(ctx.pipeline.dir, p.chat_template), p.chat_template, p.messages_field ?? 'messages', p.train_on ?? 'all_turns');
  }
  if (p.prompt === undefined || p.response === undefined) {
    throw new FtcError(
      'E_PREPROCESS_PARAMS',
      `preprocess \`${ctx.stage.name}\` needs both a prompt and a response template`,
      undefined,
      'e.g. prompt = "{instruction}\\n{input}" and response = "{output}", or template = alpaca',
    );
  }
  return templateRenderer(p.prompt, p.response);
}

/**
 * Renders every upstream record into a prompt/response pair, drops those outside the length
 * bounds and exact duplicates, shuffles with the seed and holds out ceil(n · eval_split)
 * examples (the last ones of the shuffled order) for evaluation.
 */
export const preprocessStage: StageImpl = {
  kind: 'preprocess',
  version: 2,
  async run(ctx: StageContext): Promise<StageSummary> {
    const p = ctx.stage.params as unknown as PreprocessParams;
    const input = ctx.inputs[p.input];
    if (!input) throw new Error(`preprocess ${ctx.stage.name}: upstream artifact ${p.input} missing`);
    const render = makeRenderer(p, ctx);
    const seen = p.dedupe ? new Set<string>() : undefined;
    let tooShort = 0, tooLong = 0, duplicates = 0, index = 0;

    const spill = await SpillFile.create(join(ctx.outDir, '.examples.tmp'));
    try {
      for await (const record of upstreamRecords(input)) {
        index++;
        const example: Example = render(record, { index, source: p.input });
        const length = example.prompt.length + example.response.length;
        if (p.min_length !== undefined && length < p.min_length) {
          tooShort++;
          continue;
        }
        if (p.max_length !== undefined && length > p.max_length) {
          tooLong++;
          continue;
        }
        if (seen) {
          // A digest, not the text, so the set stays small for large data; \u0000 keeps the two parts apart.
          const digest = createHash('sha256').update(example.prompt).update('\u0000').update(example.response).digest('base64');
          if (seen.has(digest)) {
            duplicates++;
            continue;
          }
          seen.add(digest);
        }
        await spill.append(example.turns ? { prompt: example.prompt, response: example.response, turns: example.turns } : { prompt: example.prompt, response: example.response });
      }

      const n = spill.count;
      const dropped = tooShort + tooLong + duplicates;
      if (n === 0) {
        throw new FtcError(
          'E_PREPROCESS_EMPTY',
          `preprocess \`${ctx.stage.name}\`: no examples left (${index} read, ${tooShort} shorter than min_length, ${tooLong} longer than max_length, ${duplicates} duplicates)`,
          undefined,
          'loosen the length bounds or check the input data',
        );
      }
      const evalCount = p.eval_split ? Math.ceil(n * p.eval_split) : 0;
      if (evalCount >= n) {
        throw new FtcError(
          'E_PREPROCESS_EMPTY',
          `preprocess \`${ctx.stage.name}\`: eval_split = ${p.eval_split} of ${n} examples leaves none for training`,
          undefined,
          'lower eval_split or add data',
        );
      }
      const order = Array.from({ length: n }, (_, i) => i);
      if (p.shuffle ?? true) seededShuffle(order, p.seed ?? ctx.pipeline.seed);
      const trainCount = n - evalCount;
      for (const [name, part] of [[TRAIN_FILE, order.slice(0, trainCount)], [EVAL_FILE, order.slice(trainCount)]] as const) {
        const out = await JsonlWriter.create(join(ctx.outDir, name));
        await spill.copyTo(out, part);
        await out.close();
      }
      if (dropped) ctx.log.info(`dropped ${dropped}: ${tooShort} too short, ${tooLong} too long, ${duplicates} duplicates`);
      return { rows: trainCount, eval_rows: evalCount, dropped };
    } finally {
      await spill.remove();
    }
  },
};
