import type { StageNode } from '../ast.js';
import type { ValidationContext } from './context.js';

/**
 * W0150: values the schema allows but that cannot train anything useful. Each bound says why,
 * so the warning teaches rather than scolds; the pipeline still compiles (a researcher may mean it).
 */
interface Bound {
  above: number;
  why: string;
}

const PLAUSIBLE: Readonly<Record<string, Readonly<Record<string, Bound>>>> = {
  trainer: {
    lr: { above: 1, why: 'a learning rate above 1 makes AdamW diverge at once (the loss goes to ln(vocab) or NaN); LoRA fine-tuning uses 1e-5 to 1e-3, often 2e-4' },
    epochs: { above: 1000, why: 'more than 1,000 passes over the data only memorises it and runs for days; 1 to 5 epochs is usual' },
    max_steps: { above: 10_000_000, why: 'ten million optimizer steps would run for months on one machine' },
    warmup_steps: { above: 1_000_000, why: 'a warmup of over a million steps keeps the learning rate near 0 for the whole run' },
    batch_size: { above: 65_536, why: 'a batch of more than 65,536 examples does not fit in any device memory' },
    grad_accum: { above: 65_536, why: 'accumulating more than 65,536 micro-batches makes each optimizer step take hours' },
    weight_decay: { above: 1, why: 'a weight decay above 1 shrinks the adapter faster than it learns; 0 to 0.1 is usual' },
    adam_epsilon: { above: 1, why: 'an epsilon above 1 swamps the gradient scale, so AdamW barely moves; 1e-8 is usual' },
  },
  lora: {
    alpha: { above: 100_000, why: 'a scaling (alpha / r) this large makes the adapter\'s first update overwhelm the base model' },
    dropout: { above: 0.9, why: 'dropping more than 90% of the adapter\'s input leaves it almost nothing to learn from' },
  },
  tokenizer: {
    max_length: { above: 1_048_576, why: 'sequences of over a million tokens do not fit the attention of any Llama-family model' },
  },
};

export function plausibleValues(stage: StageNode, ctx: ValidationContext): void {
  const bounds = Object.prototype.hasOwnProperty.call(PLAUSIBLE, stage.kind) ? PLAUSIBLE[stage.kind]! : undefined;
  if (!bounds) return;
  for (const e of stage.entries) {
    const bound = Object.prototype.hasOwnProperty.call(bounds, e.key) ? bounds[e.key]! : undefined;
    if (!bound || e.value?.type !== 'number' || !(e.value.value > bound.above)) continue;
    // A value the schema rejects is already an error (E0104): one diagnostic per mistake.
    const ks = ctx.keySchema(stage, e.key);
    if ((ks?.maximum !== undefined && e.value.value > ks.maximum) || (ks?.exclusiveMaximum !== undefined && e.value.value >= ks.exclusiveMaximum)) continue;
    ctx.warning('W0150', e.value.range, `${stage.kind} '${stage.name}': ${e.key} = ${e.value.raw} is probably a mistake: ${bound.why}.`);
  }
}

/**
 * W0151: a prompt template that ends in a space or tab. ftc encodes prompt + response as one text and masks by
 * character offsets; byte-level BPE and SentencePiece both glue that space to the response's first word (" Paris",
 * "▁Paris"), so the token straddles the boundary, goes with the prompt, and the first word is never trained. At
 * generation the prompt then ends in a lone space token the model rarely saw. Stanford Alpaca's template ends at
 * "### Response:" for this reason.
 */
export function promptEndsInSpace(stage: StageNode, ctx: ValidationContext): void {
  const v = ctx.entry(stage, 'prompt')?.value;
  if (v?.type !== 'string' || !/[ \t]$/.test(v.value)) return;
  ctx.warning('W0151', v.range, `${stage.kind} '${stage.name}': the prompt ends in a space, which the tokenizer merges with the response's first word into one token that is masked with the prompt (that word is never trained); end the prompt at ":" or "\\n", and start the response with the space if one belongs there.`);
}
