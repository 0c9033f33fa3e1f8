import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { addedSpecials } from '../../../runtime/tokenize/specials.js';
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
 * what `tokenizer(text)` adds around a text, resolved by the tokenizer stage's own rule
 * (runtime/tokenize/specials.ts) from the tokenizer_config.json beside `vocabFile`, the
 * tokenizer.json the stage loaded (undefined when it trained one). Reads files only; the CLI runs
 * the stages.
 */
export async function readExportedData(preprocessDir: string, tokenizerDir: string, chatTemplateFile?: string, vocabFile?: string): Promise<ExportedData> {
  const meta = JSON.parse(readFileSync(join(tokenizerDir, META), 'utf8')) as { bos_id: number | null; eos_id: number | null; pad_id: number | null };
  const tokenizerText = readFileSync(join(tokenizerDir, TOKENIZER), 'utf8');
  const tokenizerJson = JSON.parse(tokenizerText) as TokenizerJson;
  const special = (id: number | null) => (id === null ? undefined : { id, text: tokenText(tokenizerJson, id) });
  const specials: SpecialTokenIds = { bos: special(meta.bos_id), eos: special(meta.eos_id), pad: special(meta.pad_id) };
  for (const k of ['bos', 'eos', 'pad'] as const) if (!specials[k]) delete specials[k];
  const { Tokenizer } = createRequire(import.meta.url)('tokenizers') as typeof import('tokenizers');
  const tokenizer = Tokenizer.fromString(tokenizerText);
  tokenizer.disableTruncation(); // as the stage loads it (runtime/tokenize/load.ts)
  tokenizer.disablePadding();
  const added = await addedSpecials(tokenizer, tokenizerJson as Record<string, unknown>, vocabFile);
  return {
    trainFile: join(preprocessDir, TRAIN),
    evalFile: join(preprocessDir, EVAL),
    tokenizerFile: join(tokenizerDir, TOKENIZER),
    rows: { train: countLines(join(preprocessDir, TRAIN)), eval: countLines(join(preprocessDir, EVAL)) },
    specials,
    added: { prefix: [...added.prefix], suffix: [...added.suffix] },
    ...(chatTemplateFile ? { chatTemplate: chatTemplateOf(chatTemplateFile) } : {}),
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

/** The chat_template of a tokenizer_config.json, as the preprocess stage reads it (a string, or the `default` of named ones). */
function chatTemplateOf(file: string): string | undefined {
  const config = JSON.parse(readFileSync(file, 'utf8')) as { chat_template?: unknown };
  const t = config.chat_template;
  if (typeof t === 'string') return t;
  if (Array.isArray(t)) return ((t as { name?: string; template?: string }[]).find((x) => x.name === 'default') ?? t[0])?.template;
  return undefined;
}
