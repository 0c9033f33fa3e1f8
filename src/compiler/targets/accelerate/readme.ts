import { MAPPING, type Block } from './mapping.js';
import { TESTED_BITSANDBYTES, TESTED_VERSIONS } from './requirements.js';

const BLOCK_TITLE: Record<Block, string> = {
  pipeline: 'pipeline header',
  job: 'pipeline header: job { }',
  data: 'data',
  preprocess: 'preprocess',
  tokenizer: 'tokenizer',
  model: 'model',
  lora: 'lora',
  trainer: 'trainer',
  export: 'export',
};

const cell = (text: string): string => text.replace(/\|/g, '\\|');

/** The mapping table in Markdown, one row per key, straight from mapping.ts. */
export function mappingTable(): string {
  const rows = MAPPING.map((m) => `| ${BLOCK_TITLE[m.block]} | \`${m.key}\` | ${m.section} | ${cell(m.equivalent)}${m.noEquivalent ? ' — other values: compile error' : ''} |`);
  return ['| block | key | lands in | transformers / peft / accelerate equivalent |', '|---|---|---|---|', ...rows].join('\n') + '\n';
}

/** What the job does differently from `ftc run`, and why it cannot do otherwise. */
const DIFFERENCES = `- **Rows, template and split are ftc's.** \`ftc compile\` runs the pipeline's data, preprocess and
  tokenizer stages (cached, as \`ftc run\` would) and copies the preprocess artifact to \`data/\`. The
  job reads those rows; it does not re-render templates or re-split, because ftc's seeded shuffle
  (mulberry32) has no torch equivalent. Change the data or the pipeline, then compile again.
- **Tokenization is ftc's.** \`tokenizer/\` holds the exact tokenizer.json ftc used and a
  tokenizer_config.json naming the BOS/EOS/PAD ftc resolved; \`ftc_data.py\` builds examples with
  ftc's rules (BOS unless the prompt already starts with it, EOS, -100 on the prompt, right
  truncation, greedy packing).
- **The example order is ftc's.** The Trainer draws batches from ftc's per-epoch shuffle
  (\`ftc_data.epoch_order\`, seeded with the trainer's seed); with several processes, consecutive
  batches of it go to the processes in turn.
- **LoRA init and dropout come from torch**, seeded with the same seeds: not the same numbers as
  ftc. \`--init-adapter DIR\` starts from a saved adapter instead (one \`ftc run\` wrote, say).
- **When the losses are the same.** The Trainer's loss, like ftc's, is the mean over the counted
  tokens of the whole optimizer step, across accumulation and processes. So with dropout 0, the same
  initial adapter and fp32 (and with bias ≠ none, weight_decay = 0: the Trainer never decays biases),
  each logged step loss equals \`ftc run\`'s with grad_accum = the job's grad_accum × num_processes
  (the job's batch_size is per process), until an epoch's last step.
- **Step counts.** transformers counts an epoch's optimizer steps as floor(batches / accumulation)
  where ftc rounds up; with several processes each step sees num_processes × batch_size examples,
  and accelerate fills an epoch's last one with examples from the epoch's start.
- **Eval loss** is the Trainer's: the mean of per-batch means weighted by rows, where ftc weights
  every counted token alike.
- **Early stopping** (when set) keeps the best checkpoint (load_best_model_at_end), ftc keeps the last.
- **Packed rows** attend across example boundaries, as ftc's runtime does today.`;

export interface ReadmeInput {
  name: string;
  pipelineFile: string;
  description?: string;
  strategy: string;
  numProcesses: number;
  numMachines: number;
  quantized: boolean;
  output: string;
  model: string;
  rows: { train: number; eval: number };
}

/** The job's README.md: what is in the directory, how to launch it, and what differs from ftc run. */
export function jobReadme(r: ReadmeInput): string {
  const multi = r.numMachines > 1
    ? `\nOn each of the ${r.numMachines} machines, with its rank and the first machine's address:\n\n    accelerate launch --config_file accelerate.yaml --machine_rank RANK --main_process_ip HOST --main_process_port 29500 train.py\n`
    : '';
  return `# ${r.name}: transformers + peft job

${r.description ? `${r.description}\n\n` : ''}Compiled from \`${r.pipelineFile}\` by \`ftc compile --target accelerate\`: LoRA${r.quantized ? ' on a 4-bit (nf4) base, QLoRA,' : ''} with
transformers' Trainer, ${r.strategy} on ${r.numProcesses} process${r.numProcesses === 1 ? '' : 'es'} over ${r.numMachines} machine${r.numMachines === 1 ? '' : 's'}.

## Run

    pip install -r requirements.txt
    accelerate launch --config_file accelerate.yaml train.py
${multi}
A smoke test on a machine without GPUs (N processes over gloo; \`ACCELERATE_USE_CPU\` tells
transformers to set up a CPU process group):

    ACCELERATE_USE_CPU=true accelerate launch --config_file accelerate.yaml --multi_gpu --num_processes N train.py

The base model is read from \`${r.model}\` and the adapter written to \`${r.output}\` (both relative
to this directory; \`--model PATH_OR_HUB_ID\` and \`--output DIR\` override). The adapter is PEFT's
format (adapter_config.json + adapter_model.safetensors), the same files \`ftc run\` writes, so
\`ftc generate\`, \`ftc export\` and \`ftc score\` work on it; the logged metrics go to
metrics.jsonl beside it.

## Files

- \`train.py\`: the training script (settings at the top, one per pipeline key; see docs/accelerate.md in ftc)
- \`ftc_data.py\`: ftc's tokenization rules in plain Python
- \`accelerate.yaml\`: the accelerate config (strategy, processes, machines, mixed precision)
- \`data/train.jsonl\`${r.rows.eval ? ', `data/eval.jsonl`' : ''}: ftc's preprocessed rows (${r.rows.train} train${r.rows.eval ? `, ${r.rows.eval} eval` : ''}), \`{"prompt", "response"}\`
- \`tokenizer/\`: the tokenizer ftc used
- \`requirements.txt\`: the versions ftc tests this job with

## How this job differs from \`ftc run\`

${DIFFERENCES}
`;
}

/** docs/accelerate.md: the mapping table and the differences, generated (a test keeps it current). */
export function mappingDoc(): string {
  return `# Compiling to transformers + peft + accelerate

\`ftc compile PIPELINE --target accelerate --out DIR\` writes a self-contained training job for
clusters: \`train.py\` (transformers Trainer + peft LoRA), \`accelerate.yaml\` for the header's
\`job { strategy, num_processes, num_machines }\`, \`requirements.txt\`, a README, and ftc's
preprocessed data and tokenizer. Launch it with \`accelerate launch --config_file accelerate.yaml train.py\`.

A value listed below as having no equivalent is a compile error naming the key; nothing is dropped
silently. "compile time" means ftc applies the key itself while compiling (it runs the data,
preprocess and tokenizer stages) and the job reads the result. This page is generated from
src/compiler/targets/accelerate/mapping.ts.

## Every pipeline key

${mappingTable()}
## How a job differs from \`ftc run\`

${DIFFERENCES}

## What is verified, against which versions

${VERIFIED}
`;
}

/** What test/interop/accelerate.test.ts runs, with the versions requirements.txt pins. */
const VERIFIED = `The interop tests run the job with ${Object.entries(TESTED_VERSIONS).map(([n, v]) => `${n} ${v}`).join(', ')}
(and bitsandbytes ${TESTED_BITSANDBYTES}); the job's requirements.txt pins the same versions.

- The Alpaca example (8 rows, fp32, dropout 0, weight decay and clipping on, 4 steps over 2 epochs) compiled with \`ftc compile\` and launched with
  \`ACCELERATE_USE_CPU=true accelerate launch --multi_gpu --num_processes 2\` (DDP over gloo) from the
  adapter \`ftc run\` initialized (\`--init-adapter\`): it exits 0, every logged step loss is within
  2e-5 of \`ftc run\`'s with grad_accum 2 (grad norms within 1e-4 relative, the same lr), and
  \`ftc score\` scores its adapter as ftc's own after the same steps.
- The chat QLoRA example's train.py imports and builds its BitsAndBytesConfig, LoraConfig and
  TrainingArguments on CPU with the pipeline's values. DeepSpeed, FSDP and 4-bit training itself
  need GPUs and are not run.
- ftc_data.py's tokenization and example order equal ftc's tokenizer stage and trainer.`;
