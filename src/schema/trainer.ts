import { TRAIN_MODULES } from '../model-spec/train-modules.js';
import type { StageSchema } from './types.js';

/** The most held-out prompts eval_generate may ask for: the tokenizer stage keeps this many. */
export const EVAL_GENERATE_MAX = 32;
/** eval_max_new_tokens when unset: axolotl's default. Not a schema default, so pipelines that never generate keep their cache keys. */
export const EVAL_MAX_NEW_TOKENS_DEFAULT = 128;

export const trainerSchema: StageSchema = {
  kind: 'trainer',
  description: 'Trains with AdamW: a lora stage\'s adapter, written in PEFT format (adapter_config.json + adapter_model.safetensors), or, on a model stage, the model\'s own weights (full fine-tuning), written as a Hugging Face model directory.',
  'x-version': 1,
  type: 'object',
  properties: {
    model: { type: 'string', 'x-ref': ['lora', 'model'], description: 'What to train: a lora stage (its adapter), or a model stage (full fine-tuning: every weight, or those of train_modules).' },
    data: { type: 'string', 'x-ref': ['tokenizer'], description: 'The tokenizer stage with the training (and eval) examples.' },
    batch_size: { type: 'integer', minimum: 1, default: 8, description: 'Examples per device step (per_device_train_batch_size).' },
    epochs: { type: 'number', exclusiveMinimum: 0, default: 3, description: 'Passes over the training data (num_train_epochs).' },
    max_steps: { type: 'integer', minimum: 1, description: 'Stop after this many optimizer steps; overrides epochs.' },
    lr: { type: 'number', exclusiveMinimum: 0, default: 5e-5, description: 'Peak learning rate (learning_rate).' },
    weight_decay: { type: 'number', minimum: 0, default: 0, description: 'Decoupled AdamW weight decay.' },
    adam_beta1: { type: 'number', minimum: 0, exclusiveMaximum: 1, default: 0.9, description: 'AdamW beta1.' },
    adam_beta2: { type: 'number', minimum: 0, exclusiveMaximum: 1, default: 0.999, description: 'AdamW beta2.' },
    adam_epsilon: { type: 'number', exclusiveMinimum: 0, default: 1e-8, description: 'AdamW epsilon.' },
    scheduler: { type: 'string', enum: ['constant', 'linear', 'cosine'], default: 'linear', description: 'Learning-rate schedule after warmup (lr_scheduler_type).' },
    warmup_steps: { type: 'integer', minimum: 0, default: 0, description: 'Linear warmup steps from 0 to lr.' },
    warmup_ratio: { type: 'number', minimum: 0, maximum: 1, default: 0, description: 'Warmup as a fraction of all steps (used when warmup_steps is 0).' },
    grad_accum: { type: 'integer', minimum: 1, default: 1, description: 'Micro-batches accumulated per optimizer step (gradient_accumulation_steps).' },
    max_grad_norm: { type: 'number', minimum: 0, default: 1, description: 'Clip gradients to this global norm; 0 disables clipping.' },
    precision: {
      type: 'string',
      enum: ['fp32', 'fp16', 'bf16'],
      default: 'fp32',
      description: 'Compute precision; fp16/bf16 where the backend has them, otherwise a warning says what ran instead.',
    },
    log_every: { type: 'integer', minimum: 1, default: 10, 'x-cache': false, description: 'Log loss and learning rate every N steps (logging_steps).' },
    eval_every: { type: 'integer', minimum: 0, default: 0, description: 'Evaluate every N steps (0: at each epoch end only); the last step is always evaluated.' },
    eval_on_start: { type: 'boolean', default: false, description: 'Also evaluate before the first update, as a baseline for the curve (transformers\' eval_on_start).' },
    eval_max_examples: {
      type: 'integer',
      minimum: 1,
      description: 'Evaluate on at most this many examples of the eval split: a seeded sample, the same at every evaluation (default: all).',
    },
    eval_generate: {
      type: 'integer',
      minimum: 0,
      maximum: EVAL_GENERATE_MAX,
      description: 'Greedy answers to this many held-out prompts (the eval split\'s first), before and after training, side by side with the reference answers in report.html and eval_generations.jsonl (0: none).',
    },
    eval_max_new_tokens: {
      type: 'integer',
      minimum: 1,
      description: `Most tokens per eval_generate answer (axolotl's eval_max_new_tokens); default ${EVAL_MAX_NEW_TOKENS_DEFAULT}, never past the model's context.`,
    },
    gradient_checkpointing: {
      type: 'boolean',
      description: 'Recompute each decoder layer in the backward pass instead of keeping its activations (transformers\' gradient_checkpointing): activation memory per layer drops to its input, for about a third more compute. Default false.',
    },
    save_every: { type: 'integer', minimum: 0, default: 0, description: 'Checkpoint every N steps for --resume (0: no intermediate checkpoints).' },
    early_stopping_patience: {
      type: 'integer',
      minimum: 0,
      default: 0,
      description: 'Stop after this many evaluations without improvement of eval loss (0: never).',
    },
    output: { type: 'string', 'x-cache': false, description: 'Directory the adapter, metrics and report are written to, relative to the pipeline file.' },
    seed: { type: 'integer', minimum: 0, 'x-inherit': 'seed', description: 'Seed for data order and dropout; defaults to the pipeline seed.' },
    // No default, so pipelines that do not set it keep their cache keys.
    train_modules: {
      type: 'array', items: { type: 'string', enum: [...TRAIN_MODULES] }, minItems: 1,
      description: `Full fine-tuning only (model = a model stage): train just these modules, by Hugging Face module name (${TRAIN_MODULES.join(', ')}); the other weights stay frozen. A linear trains with its bias; with tied embeddings embed_tokens and lm_head are one weight. Default: every weight.`,
    },
  },
  required: ['model', 'data', 'output'],
  additionalProperties: false,
};
