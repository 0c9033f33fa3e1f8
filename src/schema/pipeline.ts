import { jobSchema } from './job.js';
import type { StageSchema } from './types.js';

export const pipelineSchema: StageSchema = {
  kind: 'pipeline',
  description: 'The pipeline header: its name, the seed every stage inherits, and runtime defaults.',
  'x-version': 1,
  type: 'object',
  properties: {
    seed: { type: 'integer', minimum: 0, default: 42, description: 'Seed for shuffling, splits, LoRA init and dropout. Same seed, same results.' },
    backend: {
      type: 'string',
      enum: ['auto', 'tensorflow-gpu', 'tensorflow', 'wasm', 'cpu'],
      default: 'auto',
      'x-cache': false,
      description: 'TensorFlow.js backend: auto picks the first that loads of tfjs-node-gpu, tfjs-node, wasm, cpu.',
    },
    workers: {
      oneOf: [{ type: 'integer', minimum: 1 }, { const: 'auto' }],
      default: 'auto',
      'x-cache': false,
      description: 'Data-parallel training workers (worker threads); auto uses every core.',
    },
    description: { type: 'string', 'x-cache': false, description: 'Free text describing the pipeline.' },
    job: jobSchema,
  },
  required: [],
  additionalProperties: false,
};
