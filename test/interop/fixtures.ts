/** Models and adapters the interop tests hand to Python: a Qwen2 with qkv biases, adapters as ftc saves them. */
import { copyFileSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { HostTensor, LoraSettings } from '../../src/runtime/model/api.js';
import { loadCausalLM } from '../../src/runtime/model/causal-lm.js';
import { xoshiro128 } from '../../src/runtime/model/init.js';
import { saveAdapter } from '../../src/runtime/model/peft.js';
import { writeSafetensors } from '../../src/runtime/model/safetensors.js';
import { randomWeights, tinyConfig } from '../runtime/model/fixtures.js';

/**
 * A Qwen2 in Hugging Face layout: vocab 320, hidden 64, 4 query / 2 key-value heads, q/k/v biases (random, non-zero);
 * with `tokenizerFrom`, that directory's tokenizer files (makeTinyModel's, also 320 tokens) are copied in.
 */
export function makeTinyQwen2(dir: string, tokenizerFrom?: string): void {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'config.json'), JSON.stringify({
    architectures: ['Qwen2ForCausalLM'], model_type: 'qwen2', vocab_size: 320, hidden_size: 64, intermediate_size: 80,
    num_hidden_layers: 2, num_attention_heads: 4, num_key_value_heads: 2, max_position_embeddings: 128, rms_norm_eps: 1e-6,
    rope_theta: 10000, tie_word_embeddings: false, use_sliding_window: false, bos_token_id: 1, eos_token_id: 2,
  }, null, 2));
  const c = tinyConfig({ vocabSize: 320, hiddenSize: 64, intermediateSize: 80, numAttentionHeads: 4, numKeyValueHeads: 2, attentionBias: true });
  const w = randomWeights(c, 5);
  writeSafetensors(join(dir, 'model.safetensors'), new Map([...w].map(([k, t]) => [k, { ...t, dtype: 'F32' as const }])), { format: 'pt' });
  if (!tokenizerFrom) return;
  for (const f of ['tokenizer.json', 'tokenizer_config.json', 'special_tokens_map.json']) {
    if (existsSync(join(tokenizerFrom, f))) copyFileSync(join(tokenizerFrom, f), join(dir, f));
  }
}

/**
 * An adapter as ftc's trainer saves it (the model's own adapter parameters, trained biases included, through
 * saveAdapter), with random non-zero values so every matrix and bias shows in the logits.
 */
export function ftcAdapter(modelDir: string, adapterDir: string, lora: Omit<LoraSettings, 'seed' | 'dropout'>, seed: number): void {
  const settings: LoraSettings = { ...lora, dropout: 0, seed };
  const model = loadCausalLM(modelDir, { lora: settings });
  const rnd = xoshiro128(seed);
  const random = new Map<string, HostTensor>();
  for (const [k, t] of model.exportAdapter()) random.set(k, { shape: t.shape, data: t.data.map(() => (2 * rnd() - 1) * 0.2) });
  model.dispose();
  saveAdapter(adapterDir, random, { ...settings, baseModel: modelDir });
}
