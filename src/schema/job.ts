import type { KeySchema } from './types.js';

/** The distributed strategies `ftc compile --target accelerate` writes an accelerate config for. */
export const JOB_STRATEGIES = ['ddp', 'fsdp', 'deepspeed-zero2', 'deepspeed-zero3'] as const;

/**
 * `job { ... }` inside the pipeline header: how a job compiled with `ftc compile --target accelerate`
 * is distributed. The embedded runtime ignores it (its parallelism is the header's `workers`), so it
 * is a header setting (x-cache: false) and changes no stage's cache key.
 *
 * It is a nested block of the header rather than a top-level block kind because a top-level kind
 * would be a stage to the IR, the planner and the executor, none of which has anything to run for it.
 */
export const jobSchema: KeySchema = {
  type: 'object',
  'x-cache': false,
  description: 'Distributed job settings, used only by `ftc compile --target accelerate` (transformers + peft launched by accelerate).',
  properties: {
    strategy: {
      type: 'string',
      enum: JOB_STRATEGIES,
      default: 'ddp',
      description: 'ddp: DistributedDataParallel; fsdp: FullyShardedDataParallel; deepspeed-zero2 / deepspeed-zero3: DeepSpeed ZeRO stage 2 or 3.',
    },
    num_processes: { type: 'integer', minimum: 1, default: 1, description: 'Training processes (GPUs) in all, over every machine (accelerate num_processes).' },
    num_machines: { type: 'integer', minimum: 1, default: 1, description: 'Machines (nodes) the job spans (accelerate num_machines).' },
  },
  additionalProperties: false,
};
