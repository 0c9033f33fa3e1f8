/**
 * What runs a pipeline: `ftc run`'s embedded TensorFlow.js runtime, or the transformers + peft job that
 * `ftc compile --target accelerate` writes. `ftc check` checks for one of them (`--target`, default run).
 */
export const RUN_TARGETS = ['run', 'accelerate'] as const;
export type RunTarget = (typeof RUN_TARGETS)[number];

/**
 * The base-model quantizations each target can train on (a lora stage's `quantization`). The embedded
 * runtime quantizes nf4 and fp4 itself, bit for bit as bitsandbytes (src/runtime/quant); the accelerate job
 * loads them through bitsandbytes (QLoRA).
 */
export const TARGET_QUANTIZATIONS: Readonly<Record<RunTarget, readonly string[]>> = {
  run: ['none', 'nf4', 'fp4'],
  accelerate: ['none', 'nf4', 'fp4'],
};

/** The 4-bit quantizations (bitsandbytes' bnb_4bit_quant_type): a lora stage with one of them is QLoRA. */
export const FOUR_BIT_TYPES = ['nf4', 'fp4'] as const;
export type FourBitType = (typeof FOUR_BIT_TYPES)[number];
export const isFourBit = (quantization: unknown): quantization is FourBitType => FOUR_BIT_TYPES.includes(quantization as FourBitType);

/** The targets that can run a quantization, for messages (`nf4` → accelerate). */
export const targetsFor = (quantization: string): RunTarget[] => RUN_TARGETS.filter((t) => TARGET_QUANTIZATIONS[t].includes(quantization));
