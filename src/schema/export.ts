import type { StageSchema } from './types.js';

export const exportSchema: StageSchema = {
  kind: 'export',
  description: 'Exports a trained adapter: the adapter alone (peft), merged Hugging Face weights, or a GGUF file for llama.cpp.',
  'x-version': 1,
  type: 'object',
  properties: {
    model: { type: 'string', 'x-ref': ['trainer'], description: 'The trainer stage whose adapter to export.' },
    format: { type: 'string', enum: ['peft', 'merged', 'gguf'], default: 'merged', description: 'peft: adapter only; merged: W + scaling*B*A in HF layout; gguf: llama.cpp file.' },
    dtype: { type: 'string', enum: ['f32', 'f16', 'bf16', 'q8_0'], default: 'f16', description: 'Tensor type of the exported weights (q8_0 for gguf only).' },
    output: { type: 'string', 'x-cache': false, description: 'Output directory (or .gguf file), relative to the pipeline file.' },
  },
  required: ['model', 'output'],
  additionalProperties: false,
};
