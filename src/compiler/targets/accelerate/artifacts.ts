import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { FtcError } from '../../../errors.js';
import { findChatTemplate } from '../../../model-spec/chat-template.js';
import type { ExportedData } from './index.js';
import type { SpecialTokenIds } from './script.js';

/** File names of the artifacts the job reads (src/runtime/stages/preprocess.ts and tokenizer.ts). */
const TRAIN = 'train.jsonl';
const EVAL = 'eval.jsonl';
const TOKENIZER = 'tokenizer.json';
const META = 'meta.json';

/**
 * The job's inputs from ftc's own finished artifacts: the preprocess stage's rows and the tokenizer
 * stage's tokenizer.json, with the special tokens its meta.json recorded (texts looked up in the
 * tokenizer, since the job needs them for tokenizer_config.json and the BOS-in-prompt rule), and
 * what `tokenizer(text)` adds around a text, as the tokenizer stage resolved it and recorded it in its
 * meta.json. Reads files only; the CLI runs the stages.
 */
export async function readExportedData(preprocessDir: string, tokenizerDir: string, chatTemplateFile?: string): Promise<ExportedData> {
  const meta = JSON.parse(readFileSync(join(tokenizerDir, META), 'utf8')) as {
    bos_id: number | null; eos_id: number | null; pad_id: number | null; added_specials?: { prefix: number[]; suffix: number[] };
  };
  if (!meta.added_specials) {
    throw new FtcError('E_TOKEN_DATASET_CORRUPT', `${join(tokenizerDir, META)} records no added_specials (the tokenizer artifact was written by an older ftc)`,
      undefined, 'run again with --force on the tokenizer stage');
  }
  const tokenizerText = readFileSync(join(tokenizerDir, TOKENIZER), 'utf8');
  const tokenizerJson = JSON.parse(tokenizerText) as TokenizerJson;
  const special = (id: number | null) => (id === null ? undefined : { id, text: tokenText(tokenizerJson, id) });
  const specials: SpecialTokenIds = { bos: special(meta.bos_id), eos: special(meta.eos_id), pad: special(meta.pad_id) };
  for (const k of ['bos', 'eos', 'pad'] as const) if (!specials[k]) delete specials[k];
  return {
    trainFile: join(preprocessDir, TRAIN),
    evalFile: join(preprocessDir, EVAL),
    tokenizerFile: join(tokenizerDir, TOKENIZER),
    rows: { train: countLines(join(preprocessDir, TRAIN)), eval: countLines(join(preprocessDir, EVAL)) },
    specials,
    added: { prefix: [...meta.added_specials.prefix], suffix: [...meta.added_specials.suffix] },
    ...(chatTemplateFile ? { chatTemplate: findChatTemplate(chatTemplateFile).source } : {}),
  };
}

interface TokenizerJson {
  post_processor?: unknown;
  added_tokens?: { id: number; content: string }[];
  model?: { vocab?: Record<string, number> | [string, number][] };
}

function tokenText(t: TokenizerJson, id: number): string {
  const added = t.added_tokens?.find((a) => a.id === id);
  if (added) return added.content;
  const vocab = t.model?.vocab;
  const found = Array.isArray(vocab) ? vocab[id]?.[0] : Object.entries(vocab ?? {}).find(([, v]) => v === id)?.[0];
  if (found === undefined) throw new Error(`token id ${id} from meta.json is not in tokenizer.json`);
  return found;
}

function countLines(file: string): number {
  let n = 0;
  try {
    for (const line of readFileSync(file, 'utf8').split('\n')) if (line.trim() !== '') n++;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
  return n;
}

