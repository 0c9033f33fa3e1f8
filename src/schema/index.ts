import { dataSchema } from './data.js';
import { exportSchema } from './export.js';
import { loraSchema } from './lora.js';
import { modelSchema } from './model.js';
import { pipelineSchema } from './pipeline.js';
import { preprocessSchema } from './preprocess.js';
import { tokenizerSchema } from './tokenizer.js';
import { trainerSchema } from './trainer.js';
import type { StageSchema } from './types.js';

export type { KeySchema, StageSchema } from './types.js';

/** Every block kind of the language, keyed by kind; `pipeline` is the header. */
export const schemas: Readonly<Record<string, StageSchema>> = {
  pipeline: pipelineSchema,
  data: dataSchema,
  preprocess: preprocessSchema,
  tokenizer: tokenizerSchema,
  model: modelSchema,
  lora: loraSchema,
  trainer: trainerSchema,
  export: exportSchema,
};

export const STAGE_KINDS = ['data', 'preprocess', 'tokenizer', 'model', 'lora', 'trainer', 'export'] as const;
