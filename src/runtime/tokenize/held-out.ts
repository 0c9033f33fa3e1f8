import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { EVAL_GENERATE_MAX } from '../../schema/trainer.js';
import type { Example } from '../stages/preprocess.js';

/**
 * The eval split's first prompts as a generation would ask them, for the trainer's side-by-side
 * answers (eval_generate): written by the tokenizer stage, which alone knows both the text and how
 * a prompt is encoded. One JSON object per line, in eval-split order.
 */
export const HELD_OUT_FILE = 'eval.prompts.jsonl';

/** How many the tokenizer stage keeps: the most `eval_generate` may ask for. */
export const HELD_OUT_MAX = EVAL_GENERATE_MAX;

export interface HeldOutPrompt {
  /** The prompt text as the pipeline's template rendered it: everything before the (first) answer. */
  prompt: string;
  /** The held-out answer: the response, or a chat's first assistant turn. Never part of `prompt_ids`. */
  reference: string;
  /** The prompt encoded alone, as `ftc generate` encodes one: the tokenizer stage's prefix (BOS), then the text. */
  prompt_ids: number[];
}

/**
 * An example's prompt and reference. A chat example's text holds every turn; generation asks for
 * the first assistant turn, so the prompt ends where that turn's trained span begins.
 */
export function heldOutText(e: Example): { prompt: string; reference: string } {
  if (!e.turns || e.turns.length === 0) return { prompt: e.prompt, reference: e.response };
  const text = e.prompt + e.response;
  const [start, end] = e.turns[0]!;
  return { prompt: text.slice(0, start), reference: text.slice(start, end) };
}

export function writeHeldOutPrompts(dir: string, prompts: readonly HeldOutPrompt[]): void {
  writeFileSync(join(dir, HELD_OUT_FILE), prompts.map((p) => JSON.stringify(p) + '\n').join(''));
}

/** The held-out prompts of a tokenized dataset; empty for a dataset without eval split. */
export function readHeldOutPrompts(dir: string): HeldOutPrompt[] {
  const file = join(dir, HELD_OUT_FILE);
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8').split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as HeldOutPrompt);
}
