import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { initBackend } from '../../../src/runtime/backend.js';
import { createCausalLM } from '../../../src/runtime/model/causal-lm.js';
import { generate, pickToken } from '../../../src/runtime/model/generate.js';
import { Prng } from '../../../src/runtime/model/prng.js';
import { score } from '../../../src/runtime/model/score.js';
import * as tf from '../../../src/runtime/tf.js';
import { lcg, randomTensor, randomWeights, tinyConfig } from './fixtures.js';

/** Greedy decoding the slow way: the whole sequence through forward() at every step, no cache. */
function greedyNoCache(model: ReturnType<typeof createCausalLM>, prompt: number[], n: number): number[] {
  const seq = prompt.slice();
  for (let i = 0; i < n; i++) {
    const next = tf.tidy(() => {
      const logits = model.forward(tf.tensor2d([seq], [1, seq.length], 'int32')); // [1, T, V]
      return tf.argMax(tf.reshape(tf.slice(logits, [0, seq.length - 1, 0], [1, 1, -1]), [-1])).dataSync()[0];
    });
    seq.push(next);
  }
  return seq.slice(prompt.length);
}

for (const backend of ['cpu', 'wasm'] as const) {
  describe(`generate and score (${backend})`, () => {
    before(async () => {
      await initBackend(backend);
    });

    test('KV-cache greedy decoding equals no-cache argmax step by step (GQA, non-zero adapter)', () => {
      const config = tinyConfig({ vocabSize: 31 });
      const model = createCausalLM(config, randomWeights(config, 5), { r: 2, alpha: 4, targetModules: ['q_proj', 'k_proj', 'v_proj'], dropout: 0, bias: 'none', useRslora: false, seed: 1 });
      const exported = model.exportAdapter();
      const rnd = lcg(3);
      for (const [k, t] of exported) if (k.endsWith('lora_B.weight')) exported.set(k, randomTensor(t.shape, rnd, 0.5));
      model.importAdapter(exported);
      const before = tf.memory().numTensors;
      const cached = generate(model, [4, 9, 17], { maxNewTokens: 12, eosTokenIds: [] });
      assert.equal(tf.memory().numTensors, before, 'generate leaks no tensors');
      assert.deepEqual(cached, greedyNoCache(model, [4, 9, 17], 12));
      assert.ok(new Set(cached).size > 1, 'a degenerate model would make this check weak');
      model.dispose();
    });

    test('generation stops at an end-of-sequence token and is reproducible with a seed', () => {
      const config = tinyConfig();
      const model = createCausalLM(config, randomWeights(config, 6));
      const greedy = generate(model, [1, 2], { maxNewTokens: 6, eosTokenIds: [] });
      const stopped = generate(model, [1, 2], { maxNewTokens: 6, eosTokenIds: [greedy[2]] });
      assert.deepEqual(stopped, greedy.slice(0, greedy.indexOf(greedy[2]) + 1));
      const a = generate(model, [1, 2], { maxNewTokens: 8, temperature: 1.5, seed: 9, eosTokenIds: [] });
      const b = generate(model, [1, 2], { maxNewTokens: 8, temperature: 1.5, seed: 9, eosTokenIds: [] });
      assert.deepEqual(a, b);
      model.dispose();
    });

    test("score's loss is the mean of -logprobs, and logprobs are log-probabilities", () => {
      const config = tinyConfig();
      const model = createCausalLM(config, randomWeights(config, 7));
      const ids = [3, 8, 8, 1, 20, 0, 5];
      const r = score(model, ids);
      assert.equal(r.tokens, 7);
      assert.equal(r.logprobs.length, 6);
      assert.ok(r.logprobs.every((l) => l < 0));
      const mean = -r.logprobs.reduce((s, v) => s + v, 0) / r.logprobs.length;
      assert.ok(Math.abs(r.loss - mean) < 1e-5, `${r.loss} vs ${mean}`);
      model.dispose();
    });
  });
}

describe('pickToken', () => {
  test('top-p keeps only the nucleus; temperature 0 is argmax', () => {
    const logits = new Float32Array([Math.log(0.5), Math.log(0.3), Math.log(0.15), Math.log(0.05)]);
    assert.equal(pickToken(logits, 0, 1, new Prng(1)), 0);
    const seen = new Set<number>();
    const rng = new Prng(2);
    for (let i = 0; i < 400; i++) seen.add(pickToken(logits, 1, 0.8, rng));
    assert.deepEqual([...seen].sort(), [0, 1]); // 0.5 + 0.3 reaches 0.8
    const all = new Set<number>();
    for (let i = 0; i < 400; i++) all.add(pickToken(logits, 1, 1, rng));
    assert.deepEqual([...all].sort(), [0, 1, 2, 3]);
  });
});
