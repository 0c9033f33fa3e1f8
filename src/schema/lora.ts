import { LINEAR_MODULES } from '../model-spec/modules.js';
import { targetsFor } from '../model-spec/quantization.js';
import type { StageSchema } from './types.js';

export const loraSchema: StageSchema = {
  kind: 'lora',
  description: 'Wraps target linear layers in LoRA adapters, as Hugging Face PEFT does: W x + (alpha/r) B A dropout(x).',
  'x-version': 1,
  type: 'object',
  properties: {
    model: { type: 'string', 'x-ref': ['model'], description: 'The model stage whose layers to adapt.' },
    r: { type: 'integer', minimum: 1, default: 8, description: 'Rank of the adapter matrices A [r, in] and B [out, r].' },
    alpha: { type: 'number', exclusiveMinimum: 0, default: 8, description: 'lora_alpha: the update is scaled by alpha / r (alpha / sqrt(r) with use_rslora).' },
    target_modules: {
      oneOf: [
        { type: 'array', items: { type: 'string', enum: [...LINEAR_MODULES] }, minItems: 1 },
        { const: 'all-linear' },
      ],
      default: ['q_proj', 'v_proj'],
      description: `Linear layers to adapt by name (${LINEAR_MODULES.join(', ')}), or all-linear.`,
    },
    dropout: { type: 'number', minimum: 0, exclusiveMaximum: 1, default: 0, description: "lora_dropout: dropout on the adapter's input (A's input only)." },
    bias: { type: 'string', enum: ['none', 'all', 'lora_only'], default: 'none', description: 'Which biases are trained: none, all, or those of adapted layers (lora_only).' },
    use_rslora: { type: 'boolean', default: false, description: 'Rank-stabilized LoRA: scale by alpha / sqrt(r) instead of alpha / r.' },
    // No default, so pipelines that do not set it keep their cache keys.
    use_dora: { type: 'boolean', description: 'DoRA (weight-decomposed LoRA, PEFT use_dora): also train a magnitude per output row, scaling each row of W + (alpha/r) B A to it. Default false.' },
    modules_to_save: {
      type: 'array', items: { type: 'string', enum: ['embed_tokens', 'lm_head'] }, minItems: 1,
      description: 'PEFT modules_to_save: modules trained fully and saved whole with the adapter, e.g. [embed_tokens, lm_head] after adding tokens. Default none.',
    },
    seed: { type: 'integer', minimum: 0, 'x-inherit': 'seed', description: 'Seed for the kaiming-uniform init of A; defaults to the pipeline seed.' },
    // QLoRA keys have no defaults, so pipelines that do not set them keep their cache keys.
    quantization: {
      type: 'string',
      enum: ['nf4', 'fp4', 'none'],
      description: `QLoRA: load the frozen base in 4 bits, bitsandbytes' NormalFloat (nf4) or its 4-bit float (fp4). Both are trained by ${targetsFor('nf4').map((t) => (t === 'run' ? '`ftc run`' : `\`ftc compile --target ${t}\``)).join(' and ')}; \`ftc check --target\` says whether yours can. Default none.`,
    },
    compute_dtype: {
      type: 'string',
      enum: ['fp32', 'fp16', 'bf16'],
      description: 'With quantization = nf4 or fp4: the dtype 4-bit weights are dequantized to for matmuls (bnb_4bit_compute_dtype). Default bf16.',
    },
    double_quant: {
      type: 'boolean',
      description: 'With quantization = nf4 or fp4: also quantize the quantization constants (bnb_4bit_use_double_quant). Default false.',
    },
  },
  required: ['model'],
  additionalProperties: false,
};
