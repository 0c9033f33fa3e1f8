import { isFourBit } from '../../../model-spec/quantization.js';
import type { JsonValue, PipelineIR } from '../../ir.js';
import { expr, type Py } from './python.js';

/**
 * THE table: every key of every block kind → its transformers / peft / accelerate equivalent.
 * The generator takes each section's arguments from here (`args`), the compile step refuses values
 * with no equivalent (`noEquivalent`), and docs/accelerate.md is rendered from `equivalent`.
 * A schema key missing from this table is a broken invariant (a test checks every key is here).
 */

/** `pipeline` is the header; `job` is its nested block (src/schema/job.ts). */
export type Block = 'pipeline' | 'job' | 'data' | 'preprocess' | 'tokenizer' | 'model' | 'lora' | 'trainer' | 'export';

/** Where a key lands in the generated job. */
export type Section =
  | 'compile time' // applied by ftc when compiling: the exported rows/tokenizer already carry it
  | 'TOKENIZATION' // train.py's TOKENIZATION dict, read by ftc_data.py
  | 'LoraConfig'
  | 'BitsAndBytesConfig'
  | 'TrainingArguments'
  | 'accelerate.yaml'
  | 'train.py'; // a statement of train.py (paths, seeds, callbacks, exports)

export interface MapContext {
  ir: PipelineIR;
  /** The block's resolved parameters (the header's settings for `pipeline`, the job block for `job`). */
  params: { [key: string]: JsonValue };
  /** The job has an eval split (the preprocess stage holds some examples out). */
  hasEval: boolean;
}

export interface KeyMapping {
  block: Block;
  key: string;
  section: Section;
  /** The equivalent in words, for the mapping table. */
  equivalent: string;
  /** Keyword arguments this key gives its section (TOKENIZATION, LoraConfig, BitsAndBytesConfig, TrainingArguments). */
  args?: (v: JsonValue, c: MapContext) => { [arg: string]: Py | undefined };
  /** Why this value has no equivalent (a compile error naming the key), or undefined when it has one. */
  noEquivalent?: (v: JsonValue, c: MapContext) => string | undefined;
}

const compileTime = (block: Block, key: string, what: string): KeyMapping => ({
  block,
  key,
  section: 'compile time',
  equivalent: what,
});
const EXPORTED_ROWS = 'rows exported to data/train.jsonl, data/eval.jsonl';

const TORCH_DTYPE: Record<string, string> = { fp32: 'torch.float32', fp16: 'torch.float16', bf16: 'torch.bfloat16' };

export const MAPPING: readonly KeyMapping[] = [
  // ── pipeline header ──
  { block: 'pipeline', key: 'seed', section: 'train.py', equivalent: 'default of every stage seed (below); the header itself sets nothing more' },
  {
    block: 'pipeline', key: 'backend', section: 'train.py', equivalent: 'none: torch picks the device; only `auto` compiles',
    noEquivalent: (v) => (v === 'auto' ? undefined : `the TensorFlow.js backend \`${String(v)}\` has no meaning for a torch job; remove it or set it to auto`),
  },
  {
    block: 'pipeline', key: 'workers', section: 'accelerate.yaml', equivalent: 'none: processes come from job.num_processes; only `auto` compiles',
    noEquivalent: (v) => (v === 'auto' ? undefined : `worker threads have no torch equivalent; set job { num_processes = ${String(v)} } instead`),
  },
  { block: 'pipeline', key: 'description', section: 'train.py', equivalent: "the generated README's and train.py's first paragraph" },
  { block: 'pipeline', key: 'job', section: 'accelerate.yaml', equivalent: 'the accelerate config (keys below)' },

  // ── job (pipeline header's nested block) ──
  {
    block: 'job', key: 'strategy', section: 'accelerate.yaml',
    equivalent: 'distributed_type: ddp → MULTI_GPU (NO for one process), fsdp → FSDP + fsdp_config, deepspeed-zero2/3 → DEEPSPEED + deepspeed_config.zero_stage',
  },
  { block: 'job', key: 'num_processes', section: 'accelerate.yaml', equivalent: 'num_processes' },
  { block: 'job', key: 'num_machines', section: 'accelerate.yaml', equivalent: 'num_machines (machine_rank and main_process_ip are given at launch)' },

  // ── data ──
  compileTime('data', 'source', `read by ftc's data stage, ${EXPORTED_ROWS} (datasets.load_dataset("json"))`),
  compileTime('data', 'format', "ftc's reader for json/jsonl/csv/parquet/text"),
  compileTime('data', 'text_mode', "ftc's text reader"),
  compileTime('data', 'rename', "field renames by ftc's data stage"),
  compileTime('data', 'fields', "record schema checked by ftc's data stage"),
  compileTime('data', 'on_error', "malformed rows handled by ftc's data stage"),
  compileTime('data', 'limit', "records read by ftc's data stage"),

  // ── preprocess: the exported rows are ftc's own preprocess artifact, so template and split agree by construction ──
  compileTime('preprocess', 'input', 'upstream stage of the exported rows'),
  compileTime('preprocess', 'template', `prompt/response rendering (alpaca text, {field} templates, chat template) by ftc, ${EXPORTED_ROWS}`),
  compileTime('preprocess', 'prompt', 'prompt template rendered by ftc'),
  compileTime('preprocess', 'response', 'response template rendered by ftc'),
  compileTime('preprocess', 'messages_field', 'chat messages field read by ftc'),
  compileTime('preprocess', 'chat_template', 'Jinja chat template rendered by ftc; also copied into tokenizer/tokenizer_config.json'),
  compileTime('preprocess', 'train_on', 'assistant turns trained on: spans found by ftc when it renders the chat rows (`turns` in the exported rows)'),
  compileTime('preprocess', 'min_length', 'length filter'),
  compileTime('preprocess', 'max_length', 'length filter'),
  compileTime('preprocess', 'dedupe', 'duplicate filter'),
  compileTime('preprocess', 'shuffle', "seeded shuffle before the split (ftc's order, which torch cannot reproduce, hence the export)"),
  compileTime('preprocess', 'eval_split', 'held-out rows: data/eval.jsonl'),
  compileTime('preprocess', 'seed', 'seed of the shuffle and split'),

  // ── tokenizer: the job tokenizes with the same rules (ftc_data.py) ──
  compileTime('tokenizer', 'input', 'the exported rows'),
  { block: 'tokenizer', key: 'vocab', section: 'compile time', equivalent: 'copied to tokenizer/tokenizer.json with a tokenizer_config.json naming ftc\'s BOS/EOS/PAD; AutoTokenizer.from_pretrained("tokenizer")' },
  { block: 'tokenizer', key: 'train', section: 'compile time', equivalent: "trained by ftc's tokenizer stage; the trained tokenizer.json is copied to tokenizer/" },
  { block: 'tokenizer', key: 'max_length', section: 'TOKENIZATION', equivalent: 'TOKENIZATION["max_length"]: tokens per example (and per packed row)', args: (v) => ({ max_length: v }) },
  { block: 'tokenizer', key: 'truncation', section: 'TOKENIZATION', equivalent: 'TOKENIZATION["truncation"]: cut on the right (response tail first), else drop', args: (v) => ({ truncation: v }) },
  { block: 'tokenizer', key: 'add_bos', section: 'TOKENIZATION', equivalent: "TOKENIZATION[\"add_bos\"]: overrides SPECIALS[\"added_prefix\"] (what tokenizer(text) adds; a chat row gets none) with ftc's BOS id or nothing; never doubles a BOS the prompt starts with", args: (v) => ({ add_bos: v }) },
  { block: 'tokenizer', key: 'add_eos', section: 'TOKENIZATION', equivalent: "TOKENIZATION[\"add_eos\"]: EOS after the response unless already there (default for prompt/response rows, off for chat rows)", args: (v) => ({ add_eos: v }) },
  { block: 'tokenizer', key: 'train_on_inputs', section: 'TOKENIZATION', equivalent: 'TOKENIZATION["train_on_inputs"]: labels -100 on BOS and on tokens outside the response/assistant-turn spans unless true', args: (v) => ({ train_on_inputs: v }) },
  { block: 'tokenizer', key: 'packing', section: 'TOKENIZATION', equivalent: "TOKENIZATION[\"packing\"]: ftc's greedy in-order packing, first token of each example unlabelled", args: (v) => ({ packing: v }) },
  compileTime('tokenizer', 'workers', "threads of ftc's tokenizer stage, which ftc compile runs; the same rows whatever the count"),

  // ── model ──
  { block: 'model', key: 'path', section: 'train.py', equivalent: 'AutoModelForCausalLM.from_pretrained(MODEL) (MODEL relative to the job directory; --model overrides)' },

  // ── lora ──
  compileTime('lora', 'model', 'the model stage the adapter wraps (MODEL)'),
  { block: 'lora', key: 'r', section: 'LoraConfig', equivalent: 'LoraConfig(r=...)', args: (v) => ({ r: v }) },
  { block: 'lora', key: 'alpha', section: 'LoraConfig', equivalent: 'LoraConfig(lora_alpha=...)', args: (v) => ({ lora_alpha: v }) },
  { block: 'lora', key: 'target_modules', section: 'LoraConfig', equivalent: 'LoraConfig(target_modules=[...] or "all-linear")', args: (v) => ({ target_modules: v }) },
  { block: 'lora', key: 'dropout', section: 'LoraConfig', equivalent: 'LoraConfig(lora_dropout=...)', args: (v) => ({ lora_dropout: v }) },
  { block: 'lora', key: 'bias', section: 'LoraConfig', equivalent: 'LoraConfig(bias=...)', args: (v) => ({ bias: v }) },
  { block: 'lora', key: 'use_rslora', section: 'LoraConfig', equivalent: 'LoraConfig(use_rslora=...)', args: (v) => ({ use_rslora: v }) },
  { block: 'lora', key: 'modules_to_save', section: 'LoraConfig', equivalent: 'LoraConfig(modules_to_save=[...])', args: (v) => ({ modules_to_save: v }) },
  { block: 'lora', key: 'use_dora', section: 'LoraConfig', equivalent: 'LoraConfig(use_dora=...)', args: (v) => ({ use_dora: v }) },
  { block: 'lora', key: 'seed', section: 'train.py', equivalent: "set_seed(LORA_SEED) before get_peft_model (torch RNG: same seed, not the same numbers as ftc; `--init-adapter DIR` starts from ftc's)" },
  {
    block: 'lora', key: 'quantization', section: 'BitsAndBytesConfig',
    equivalent: 'nf4 / fp4 → BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type="nf4" / "fp4") + prepare_model_for_kbit_training; none → full-precision base',
    args: (v) => (isFourBit(v) ? { load_in_4bit: true, bnb_4bit_quant_type: v } : {}),
  },
  {
    block: 'lora', key: 'compute_dtype', section: 'BitsAndBytesConfig', equivalent: 'BitsAndBytesConfig(bnb_4bit_compute_dtype=torch.*) (and bnb_4bit_quant_storage under fsdp / deepspeed-zero3)',
    args: (v) => ({ bnb_4bit_compute_dtype: expr(TORCH_DTYPE[v as string]!) }),
  },
  { block: 'lora', key: 'double_quant', section: 'BitsAndBytesConfig', equivalent: 'BitsAndBytesConfig(bnb_4bit_use_double_quant=...)', args: (v) => ({ bnb_4bit_use_double_quant: v }) },

  // ── trainer ──
  compileTime('trainer', 'model', 'the lora stage to train (a model stage, full fine-tuning, runs only in `ftc run`)'),
  compileTime('trainer', 'data', 'the tokenizer stage whose settings TOKENIZATION holds'),
  {
    block: 'trainer', key: 'batch_size', section: 'TrainingArguments', equivalent: 'per_device_train_batch_size, per_device_eval_batch_size',
    args: (v) => ({ per_device_train_batch_size: v, per_device_eval_batch_size: v }),
  },
  { block: 'trainer', key: 'epochs', section: 'TrainingArguments', equivalent: 'num_train_epochs', args: (v) => ({ num_train_epochs: v }) },
  { block: 'trainer', key: 'max_steps', section: 'TrainingArguments', equivalent: 'max_steps', args: (v) => ({ max_steps: v }) },
  { block: 'trainer', key: 'lr', section: 'TrainingArguments', equivalent: 'learning_rate', args: (v) => ({ learning_rate: v }) },
  { block: 'trainer', key: 'weight_decay', section: 'TrainingArguments', equivalent: 'weight_decay (optim="adamw_torch")', args: (v) => ({ optim: 'adamw_torch', weight_decay: v }) },
  { block: 'trainer', key: 'adam_beta1', section: 'TrainingArguments', equivalent: 'adam_beta1', args: (v) => ({ adam_beta1: v }) },
  { block: 'trainer', key: 'adam_beta2', section: 'TrainingArguments', equivalent: 'adam_beta2', args: (v) => ({ adam_beta2: v }) },
  { block: 'trainer', key: 'adam_epsilon', section: 'TrainingArguments', equivalent: 'adam_epsilon', args: (v) => ({ adam_epsilon: v }) },
  {
    block: 'trainer', key: 'scheduler', section: 'TrainingArguments',
    equivalent: 'lr_scheduler_type: constant → constant_with_warmup (ftc warms up every schedule), linear, cosine',
    args: (v) => ({ lr_scheduler_type: v === 'constant' ? 'constant_with_warmup' : v }),
  },
  { block: 'trainer', key: 'warmup_steps', section: 'TrainingArguments', equivalent: 'warmup_steps', args: (v) => ({ warmup_steps: v }) },
  {
    // transformers 5 dropped warmup_ratio: a warmup_steps below 1 is the ratio. This row comes after
    // warmup_steps', so its argument replaces that one's 0.
    block: 'trainer', key: 'warmup_ratio', section: 'TrainingArguments', equivalent: 'warmup_steps as a fraction below 1 (when warmup_steps is 0, as in ftc); 1 has no such form',
    args: (v, c) => (c.params.warmup_steps === 0 && v !== 0 ? { warmup_steps: v } : {}),
    noEquivalent: (v, c) => (c.params.warmup_steps === 0 && v === 1 ? 'transformers reads warmup_steps = 1 as one step, not as all of them; set warmup_steps to the number of steps instead' : undefined),
  },
  { block: 'trainer', key: 'grad_accum', section: 'TrainingArguments', equivalent: 'gradient_accumulation_steps (also deepspeed_config.gradient_accumulation_steps)', args: (v) => ({ gradient_accumulation_steps: v }) },
  { block: 'trainer', key: 'max_grad_norm', section: 'TrainingArguments', equivalent: 'max_grad_norm (0 disables clipping in both)', args: (v) => ({ max_grad_norm: v }) },
  {
    block: 'trainer', key: 'precision', section: 'TrainingArguments', equivalent: 'fp16=True / bf16=True (and accelerate mixed_precision); the base loads in that dtype, adapters stay fp32',
    args: (v) => (v === 'fp16' ? { fp16: true } : v === 'bf16' ? { bf16: true } : {}),
  },
  { block: 'trainer', key: 'log_every', section: 'TrainingArguments', equivalent: 'logging_steps; each log is also a line of metrics.jsonl in the output directory, as ftc writes it', args: (v) => ({ logging_strategy: 'steps', logging_steps: v }) },
  {
    block: 'trainer', key: 'eval_every', section: 'TrainingArguments',
    equivalent: 'eval_strategy="steps", eval_steps (0: "epoch"; "no" without an eval split); a last-step eval, as ftc',
    args: (v, c) => (!c.hasEval ? { eval_strategy: 'no' } : v === 0 ? { eval_strategy: 'epoch' } : { eval_strategy: 'steps', eval_steps: v }),
  },
  { block: 'trainer', key: 'gradient_checkpointing', section: 'TrainingArguments', equivalent: 'gradient_checkpointing (both default to false)', args: (v) => (v ? { gradient_checkpointing: true } : {}) },
  { block: 'trainer', key: 'eval_on_start', section: 'TrainingArguments', equivalent: 'eval_on_start (both default to false)', args: (v, c) => (c.hasEval ? { eval_on_start: v } : {}) },
  { block: 'trainer', key: 'eval_generate', section: 'train.py', equivalent: "none: the job generates no held-out answers (ftc's own report shows them); the key changes nothing in training and is not carried over" },
  { block: 'trainer', key: 'eval_max_new_tokens', section: 'train.py', equivalent: 'none: see eval_generate' },
  {
    block: 'trainer', key: 'eval_max_examples', section: 'TrainingArguments', equivalent: 'none: TrainingArguments has no cap on the eval set; only leaving it unset compiles',
    noEquivalent: () => 'transformers evaluates the whole eval set; remove the key, or lower eval_split in the preprocess stage',
  },
  {
    block: 'trainer', key: 'save_every', section: 'TrainingArguments',
    equivalent: 'save_strategy="steps", save_steps (0: "no"); follows the eval schedule when early stopping is on',
    args: (v, c) => {
      if (earlyStopping(c)) return c.params.eval_every === 0 ? { save_strategy: 'epoch' } : { save_strategy: 'steps', save_steps: c.params.eval_every! };
      return v === 0 ? { save_strategy: 'no' } : { save_strategy: 'steps', save_steps: v };
    },
  },
  {
    block: 'trainer', key: 'early_stopping_patience', section: 'TrainingArguments',
    equivalent: 'EarlyStoppingCallback(early_stopping_patience=...) with metric_for_best_model="eval_loss", load_best_model_at_end=True (0: no callback)',
    args: (_v, c) => (earlyStopping(c) ? { load_best_model_at_end: true, metric_for_best_model: 'eval_loss', greater_is_better: false } : {}),
  },
  { block: 'trainer', key: 'output', section: 'TrainingArguments', equivalent: 'output_dir; trainer.save_model writes the PEFT adapter there (--output overrides)', args: () => ({ output_dir: expr('str(output)') }) },
  { block: 'trainer', key: 'seed', section: 'TrainingArguments', equivalent: "seed (torch RNG: dropout) and DATA_SEED: ftc's per-epoch example order (ftc_data.epoch_order), the same batches as ftc", args: (v) => ({ seed: v }) },
  {
    block: 'trainer', key: 'train_modules', section: 'TrainingArguments', equivalent: 'none: the job trains a LoRA adapter, and full fine-tuning (model = a model stage) runs only in `ftc run`',
    noEquivalent: () => 'the accelerate job trains a LoRA adapter; train the full model with `ftc run`, or point the trainer at a lora stage and remove train_modules',
  },

  // ── export: run after training on the main process ──
  compileTime('export', 'model', 'the trainer whose adapter is exported'),
  {
    block: 'export', key: 'format', section: 'train.py',
    equivalent: 'peft → copy of the adapter; merged → PeftModel.from_pretrained(base).merge_and_unload().save_pretrained(...); gguf has none',
    noEquivalent: (v) => (v === 'gguf' ? 'transformers writes no GGUF; export peft or merged from the job, then run `ftc export` (or llama.cpp\'s convert script) on the result' : undefined),
  },
  {
    block: 'export', key: 'dtype', section: 'train.py', equivalent: 'dtype of the merged weights (f32, f16, bf16); q8_0 has none',
    noEquivalent: (v, c) => (v === 'q8_0' && c.params.format !== 'gguf' ? 'q8_0 is a GGUF tensor type; transformers saves f32, f16 or bf16' : undefined),
  },
  { block: 'export', key: 'output', section: 'train.py', equivalent: 'directory the export is written to (relative to the job directory)' },
];

/** Early stopping is on when a patience is set and there is an eval split to measure (ftc turns it off otherwise, with a warning). */
export function earlyStopping(c: MapContext): boolean {
  return c.hasEval && typeof c.params.early_stopping_patience === 'number' && c.params.early_stopping_patience > 0;
}

const BY_KEY = new Map(MAPPING.map((m) => [`${m.block}.${m.key}`, m]));

/** The row of a key; a missing row is a broken invariant (every schema key has one). */
export function mappingOf(block: Block, key: string): KeyMapping {
  const m = BY_KEY.get(`${block}.${key}`);
  if (!m) throw new Error(`accelerate mapping: no row for ${block}.${key}`);
  return m;
}

/** The keyword arguments a block's parameters give one section, in the table's order. */
export function sectionArgs(section: Section, block: Block, c: MapContext): Record<string, Py> {
  const out: Record<string, Py> = {};
  for (const m of MAPPING) {
    if (m.block !== block || m.section !== section || !m.args) continue;
    const v = c.params[m.key];
    if (v === undefined) continue;
    for (const [arg, value] of Object.entries(m.args(v, c))) if (value !== undefined) out[arg] = value;
  }
  return out;
}
