import type { StageSchema } from './types.js';

export const modelSchema: StageSchema = {
  kind: 'model',
  description: 'A Llama-family base model in Hugging Face layout: config.json + model.safetensors (or a sharded index) + tokenizer.json.',
  'x-version': 1,
  type: 'object',
  properties: {
    path: { type: 'string', 'x-path': 'dir', description: 'Model directory, relative to the pipeline file.' },
  },
  required: ['path'],
  additionalProperties: false,
};
