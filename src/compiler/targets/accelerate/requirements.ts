/**
 * The versions the job is run with in ftc's interop tests (test/interop/accelerate.test.ts, on
 * interop/requirements.txt's environment; a test keeps the two equal). Exact pins: the job uses
 * Trainer internals (the train sampler, the per-token loss over devices) that move between releases.
 */
export const TESTED_VERSIONS = {
  torch: '2.13.0',
  transformers: '5.24.0',
  peft: '0.21.2',
  accelerate: '1.15.0',
  datasets: '5.2.0',
  safetensors: '0.8.0',
  tokenizers: '0.23.3',
} as const;
export const TESTED_BITSANDBYTES = '0.50.2';

/** requirements.txt: the tested pins; DeepSpeed, which the tests do not install, as a floor. */
export function requirements(o: { quantized: boolean; strategy: string }): string {
  const lines = ['# The versions ftc tests this job with (pip install -r requirements.txt).'];
  for (const [name, version] of Object.entries(TESTED_VERSIONS)) lines.push(`${name}==${version}`);
  if (o.quantized) lines.push(`bitsandbytes==${TESTED_BITSANDBYTES}`);
  if (o.strategy.startsWith('deepspeed')) lines.push('# Not installed by ftc\'s tests: a floor, not a tested version.', 'deepspeed>=0.14');
  return lines.join('\n') + '\n';
}
