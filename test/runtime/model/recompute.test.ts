import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { initBackend } from '../../../src/runtime/backend.js';
import { attentionBatched, setAttentionImpl } from '../../../src/runtime/model/attention.js';
import { createCausalLM } from '../../../src/runtime/model/causal-lm.js';
import * as tf from '../../../src/runtime/tf.js';
import { lcg, randomTensor, randomWeights, tinyConfig } from './fixtures.js';

const close = (a: ArrayLike<number>, b: ArrayLike<number>, tol: number, what: string) => {
  assert.equal(a.length, b.length);
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i]! - b[i]!));
  assert.ok(worst <= tol, `${what}: max |diff| ${worst}`);
};

for (const backend of ['cpu', 'wasm'] as const) {
  describe(`gradient checkpointing on ${backend}`, () => {
    before(async () => {
      await initBackend(backend);
    });

    test('gives the gradients of the plain backward pass within 1e-4, dropout and trained biases included, and leaks nothing', () => {
      const config = tinyConfig({ numHiddenLayers: 3, attentionBias: true, architecture: 'Qwen2ForCausalLM', modelType: 'qwen2' });
      const lora = { r: 4, alpha: 8, targetModules: ['q_proj', 'v_proj', 'gate_proj'], dropout: 0.2, bias: 'lora_only' as const, useRslora: false, seed: 5 };
      const model = createCausalLM(config, randomWeights(config, 4), lora);
      const rnd = lcg(12);
      model.importAdapter(new Map([...model.exportAdapter()].map(([k, t]) => [k, randomTensor(t.shape, rnd, 0.3)])));
      const ids = tf.tensor2d([[3, 7, 1, 19, 22, 4], [0, 11, 11, 4, 9, 2]], [2, 6], 'int32');
      const labels = tf.tensor2d([[-100, -100, 1, 19, 22, 4], [-100, 11, 11, -100, 9, 2]], [2, 6], 'int32');
      const vars = [...model.adapterParams().values()];
      assert.ok(vars.some((v) => v.rank === 1), 'a trained bias is among the parameters');
      const run = (gradientCheckpointing: boolean) =>
        tf.variableGrads(() => model.loss(ids, labels, { training: true, dropoutSeed: [8, 9], gradientCheckpointing }), vars);
      const plain = run(false);
      const before = tf.memory().numTensors;
      const recomputed = run(true);
      assert.ok(Math.abs(plain.value.dataSync()[0]! - recomputed.value.dataSync()[0]!) < 1e-6);
      for (const v of vars) {
        close(recomputed.grads[v.name]!.dataSync(), plain.grads[v.name]!.dataSync(), 1e-4, v.name);
        assert.ok(plain.grads[v.name]!.dataSync().some((x) => x !== 0), `${v.name} has a non-zero gradient`);
      }
      tf.dispose([recomputed.value, ...Object.values(recomputed.grads)]);
      assert.equal(tf.memory().numTensors, before, 'a checkpointed step leaves no tensor behind');
      const again = run(true);
      tf.dispose([again.value, ...Object.values(again.grads)]);
      assert.equal(tf.memory().numTensors, before);
      tf.dispose([ids, labels, plain.value, ...Object.values(plain.grads)]);
      model.dispose();
    });

    test('fused attention gives the LoRA gradients of autodiff attention within 1e-4, with and without checkpointing, and the same cached-decoding logits', () => {
      const config = tinyConfig({ numHiddenLayers: 2 }); // 4 heads, 2 key/value heads
      const lora = { r: 4, alpha: 8, targetModules: ['q_proj', 'k_proj', 'v_proj', 'o_proj'], dropout: 0.1, bias: 'none' as const, useRslora: false, seed: 3 };
      const model = createCausalLM(config, randomWeights(config, 6), lora);
      const rnd = lcg(21);
      model.importAdapter(new Map([...model.exportAdapter()].map(([k, t]) => [k, randomTensor(t.shape, rnd, 0.3)])));
      const ids = tf.tensor2d([[3, 7, 1, 19, 22, 4, 8], [0, 11, 11, 4, 9, 2, 5]], [2, 7], 'int32');
      const labels = tf.tensor2d([[-100, 7, 1, 19, 22, 4, 8], [-100, 11, 11, -100, 9, 2, 5]], [2, 7], 'int32');
      const vars = [...model.adapterParams().values()];
      const run = (gradientCheckpointing: boolean) =>
        tf.variableGrads(() => model.loss(ids, labels, { training: true, dropoutSeed: [4, 5], gradientCheckpointing }), vars);
      // Cached decoding: 4 positions, then 3 more reading the cache (a past offset of 4).
      const decodeInTwo = () => {
        const [head, tail] = tf.split(ids, [4, 3], 1) as tf.Tensor2D[];
        const first = model.step(head!);
        const second = model.step(tail!, first.cache);
        const out = [first.logits, second.logits].map((x) => Array.from(x.dataSync()));
        tf.dispose([head!, tail!, first.logits, second.logits, ...first.cache.flatMap((c) => [c.k, c.v]), ...second.cache.flatMap((c) => [c.k, c.v])]);
        return out;
      };
      setAttentionImpl(attentionBatched);
      let reference: ReturnType<typeof run>[];
      let referenceLogits: number[][];
      try {
        reference = [run(false), run(true)];
        referenceLogits = decodeInTwo();
      } finally {
        setAttentionImpl(undefined);
      }
      const before = tf.memory().numTensors;
      for (const [i, checkpointing] of [false, true].entries()) {
        for (let step = 0; step < 2; step++) {
          const fused = run(checkpointing);
          assert.ok(Math.abs(fused.value.dataSync()[0]! - reference[i]!.value.dataSync()[0]!) < 1e-5, 'the same loss');
          for (const v of vars) {
            close(fused.grads[v.name]!.dataSync(), reference[i]!.grads[v.name]!.dataSync(), 1e-4, `${v.name}, checkpointing ${checkpointing}`);
            assert.ok(fused.grads[v.name]!.dataSync().some((x) => x !== 0), `${v.name} has a non-zero gradient`);
          }
          tf.dispose([fused.value, ...Object.values(fused.grads)]);
          assert.equal(tf.memory().numTensors, before, `step ${step} leaves no tensor behind (checkpointing ${checkpointing})`);
        }
      }
      decodeInTwo().forEach((xs, i) => close(xs, referenceLogits[i]!, 1e-4, `cached decoding, call ${i}`));
      assert.equal(tf.memory().numTensors, before, 'cached decoding leaves no tensor behind');
      tf.dispose([ids, labels, ...reference.flatMap((r) => [r.value, ...Object.values(r.grads)])]);
      model.dispose();
    });
  });
}
