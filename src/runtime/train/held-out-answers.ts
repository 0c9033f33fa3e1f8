import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Tokenizer } from 'tokenizers';
import { EVAL_MAX_NEW_TOKENS_DEFAULT } from '../../schema/trainer.js';
import type { LlamaCausalLM } from '../model/causal-lm.js';
import { generate } from '../model/generate.js';
import { readHeldOutPrompts, type HeldOutPrompt } from '../tokenize/held-out.js';
import { loadTokenizerFile } from '../tokenize/load.js';


/** The file beside the adapter: one line per held-out prompt with both answers. */
export const ANSWERS_FILE = 'eval_generations.jsonl';

/** One held-out prompt with the reference answer and the model's greedy answers before and after training. */
export interface HeldOutAnswer {
  prompt: string;
  reference: string;
  base: string;
  tuned: string;
}

/**
 * Greedy answers to held-out prompts (eval_generate): asked once of the model as it starts (its
 * adapter is the identity then, so these are the base model's answers) and once after training.
 * Decoding stops at an end-of-sequence token, after `maxNewTokens`, or at the model's context length.
 */
export class HeldOutGeneration {
  constructor(
    readonly prompts: readonly HeldOutPrompt[],
    private readonly tokenizer: Tokenizer,
    private readonly opts: { maxNewTokens: number; eosTokenIds: number[] },
  ) {}

  async answers(model: LlamaCausalLM): Promise<string[]> {
    const out: string[] = [];
    for (const p of this.prompts) {
      const room = model.config.maxPositionEmbeddings - p.prompt_ids.length;
      const ids = room > 0 ? generate(model, p.prompt_ids, { maxNewTokens: Math.min(this.opts.maxNewTokens, room), eosTokenIds: this.opts.eosTokenIds }) : [];
      // Special tokens (the EOS that ends an answer) are left out, as `ftc generate` prints an answer.
      out.push(await this.tokenizer.decode(ids, true));
    }
    return out;
  }

  /** The side-by-side rows, also written as JSONL into `dir`. */
  write(dir: string, base: readonly string[], tuned: readonly string[]): HeldOutAnswer[] {
    const rows = this.prompts.map((p, i) => ({ prompt: p.prompt, reference: p.reference, base: base[i] ?? '', tuned: tuned[i] ?? '' }));
    writeFileSync(join(dir, ANSWERS_FILE), rows.map((r) => JSON.stringify(r) + '\n').join(''));
    return rows;
  }
}

/**
 * The generation for a trainer's eval_generate, or undefined when it asks for none or the tokenized
 * dataset holds no held-out prompts (no eval split; `warn` says so). End of sequence: the model
 * config's EOS ids and the tokenizer's own.
 */
export function heldOutGeneration(
  dataset: { dir: string; eosId: number | null },
  ask: { count?: number; maxNewTokens?: number },
  model: LlamaCausalLM,
  warn: (message: string) => void,
): HeldOutGeneration | undefined {
  if (!ask.count) return undefined;
  const prompts = readHeldOutPrompts(dataset.dir).slice(0, ask.count);
  if (prompts.length === 0) {
    warn(`eval_generate = ${ask.count}, but the dataset has no held-out prompts (no eval split): no answers are generated`);
    return undefined;
  }
  const { tokenizer } = loadTokenizerFile(join(dataset.dir, 'tokenizer.json'), 'the tokenized dataset\'s tokenizer.json');
  const eosTokenIds = [...new Set([...model.config.eosTokenIds, ...(dataset.eosId !== null ? [dataset.eosId] : [])])];
  return new HeldOutGeneration(prompts, tokenizer, { maxNewTokens: ask.maxNewTokens ?? EVAL_MAX_NEW_TOKENS_DEFAULT, eosTokenIds });
}
