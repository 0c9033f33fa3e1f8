import type { StageNode } from '../ast.js';
import type { ValidationContext } from './context.js';
import { toJson } from './values.js';

/** The code `ftc compile --target accelerate` drops: there, nf4 is honoured. */
export const QUANTIZATION_NEEDS_ACCELERATE = 'W0303';

/**
 * W0303: `quantization = nf4` (QLoRA) has a transformers + bitsandbytes equivalent but none in the
 * TensorFlow.js runtime. A warning, not an error, so `ftc check` accepts a pipeline written for the
 * accelerate target; the message says what `ftc run` would do instead.
 */
export function quantizationNeedsAccelerate(lora: StageNode, ctx: ValidationContext): void {
  const entry = ctx.entry(lora, 'quantization');
  if (!entry?.value || toJson(entry.value) !== 'nf4') return;
  ctx.warning(
    QUANTIZATION_NEEDS_ACCELERATE,
    entry.range,
    `lora '${lora.name}': quantization = nf4 (QLoRA) needs \`ftc compile --target accelerate\` (transformers + bitsandbytes); the embedded runtime (ftc run) has no 4-bit base and would train in full precision.`,
  );
}
