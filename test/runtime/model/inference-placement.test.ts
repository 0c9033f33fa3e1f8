/**
 * ftc generate and score with a QLoRA adapter place the 4-bit base by the memory plan (causal-lm.ts
 * inferencePlacement): Llama-2-7B's base streams from the host, as it does in training; TinyLlama's stays in
 * the heap. Streamed, decoding gives the resident model's logits and tokens bit for bit (the same kernel on
 * the same state), with no tensor left behind.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { parseLlamaConfig } from '../../../src/model-spec/config.js';
import { initBackend } from '../../../src/runtime/backend.js';
import { inferencePlacement, loadCausalLM } from '../../../src/runtime/model/causal-lm.js';
import { generate } from '../../../src/runtime/model/generate.js';
import * as tf from '../../../src/runtime/tf.js';
import { runCli, tempDir } from '../../helpers.js';

const lora = (quantization?: { type: 'nf4' | 'fp4'; doubleQuant: boolean }) => ({
  r: 8, alpha: 16, targetModules: ['q_proj', 'v_proj'], dropout: 0.05, bias: 'none' as const, useRslora: false, seed: 1, ...(quantization ? { quantization } : {}),
});
const llama = (dims: Record<string, unknown>) => parseLlamaConfig({
  architectures: ['LlamaForCausalLM'], max_position_embeddings: 4096, torch_dtype: 'bfloat16', bos_token_id: 1, eos_token_id: 2, vocab_size: 32000, ...dims,
}, 'config.json');

test('inference places a 4-bit base as the plan does: Llama-2-7B streams, TinyLlama stays resident, a full-precision base is resident', () => {
  const llama2 = llama({ hidden_size: 4096, intermediate_size: 11008, num_hidden_layers: 32, num_attention_heads: 32, num_key_value_heads: 32 });
  const tiny = llama({ hidden_size: 2048, intermediate_size: 5632, num_hidden_layers: 22, num_attention_heads: 32, num_key_value_heads: 4 });
  for (const type of ['nf4', 'fp4'] as const) {
    assert.equal(inferencePlacement(llama2, lora({ type, doubleQuant: true })), 'streamed');
    assert.equal(inferencePlacement(llama2, lora({ type, doubleQuant: false })), 'streamed');
    assert.equal(inferencePlacement(tiny, lora({ type, doubleQuant: true })), 'resident');
  }
  assert.equal(inferencePlacement(llama2, lora()), 'resident');
});

test('streamed 4-bit decoding: the resident model\'s logits and greedy tokens, bit for bit, and no leak', async () => {
  const dir = tempDir();
  const init = runCli(['init-model', 'model', '--layers', '2', '--hidden', '128', '--heads', '4', '--kv-heads', '2', '--ffn', '256', '--vocab', '300', '--max-positions', '64'], { cwd: dir });
  assert.equal(init.status, 0, init.stderr);
  await initBackend('wasm');
  const settings = lora({ type: 'nf4', doubleQuant: true });
  const prompt = [1, 17, 42, 99, 5, 230];
  const run = (streamQuantized: boolean) => {
    const before = tf.memory().numTensors;
    const model = loadCausalLM(join(dir, 'model'), { lora: settings, streamQuantized });
    // A trained-looking adapter: lora_B starts at zero, which would hide the base's products behind nothing.
    let s = 11;
    const noise = (n: number) => Float32Array.from({ length: n }, () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32 - 0.5) * 0.1);
    model.importAdapter(new Map([...model.exportAdapter()].map(([k, t]) => [k, { shape: t.shape, data: noise(t.data.length) }])));
    const ids = tf.tensor2d([prompt], [1, prompt.length], 'int32');
    const { logits, cache } = model.step(ids);
    const values = logits.dataSync().slice();
    tf.dispose([ids, logits, ...cache.flatMap((c) => [c.k, c.v])]);
    const tokens = generate(model, prompt, { maxNewTokens: 8, eosTokenIds: [] });
    model.dispose();
    assert.equal(tf.memory().numTensors, before, 'every tensor freed');
    return { values, tokens };
  };
  const resident = run(false);
  const streamed = run(true);
  assert.equal(streamed.tokens.length, 8);
  assert.deepEqual(streamed.tokens, resident.tokens);
  assert.deepEqual(streamed.values, resident.values);
});
