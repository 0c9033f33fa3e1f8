/**
 * What runs a pipeline: `ftc run`'s embedded TensorFlow.js runtime, or the transformers + peft job that
 * `ftc compile --target accelerate` writes. `ftc check` checks for one of them (`--target`, default run).
 */
export const RUN_TARGETS = ['run', 'accelerate'] as const;
export type RunTarget = (typeof RUN_TARGETS)[number];

/**
 * The base-model quantizations each target can train on (a lora stage's `quantization`). The embedded
 * runtime quantizes nf4 itself, bit for bit as bitsandbytes (src/runtime/quant); the accelerate job loads nf4
 * through bitsandbytes (QLoRA).
 */
export const TARGET_QUANTIZATIONS: Readonly<Record<RunTarget, readonly string[]>> = {
  run: ['none', 'nf4'],
  accelerate: ['none', 'nf4'],
};

/** The targets that can run a quantization, for messages (`nf4` → accelerate). */
export const targetsFor = (quantization: string): RunTarget[] => RUN_TARGETS.filter((t) => TARGET_QUANTIZATIONS[t].includes(quantization));
