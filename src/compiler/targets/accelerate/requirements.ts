/**
 * requirements.txt: floors for the APIs train.py uses. transformers 4.46 fixed gradient
 * accumulation to weight the loss by tokens over the whole step, as ftc does, and has eval_strategy
 * and eval_on_start; peft 0.12 keeps LoRA weights in float32 over a half-precision base.
 */
export function requirements(o: { quantized: boolean; strategy: string }): string {
  const lines = ['torch>=2.1', 'transformers>=4.46', 'peft>=0.12', 'accelerate>=0.34', 'datasets>=2.19', 'safetensors>=0.4'];
  if (o.quantized) lines.push('bitsandbytes>=0.43.3');
  if (o.strategy.startsWith('deepspeed')) lines.push('deepspeed>=0.14');
  return lines.join('\n') + '\n';
}
