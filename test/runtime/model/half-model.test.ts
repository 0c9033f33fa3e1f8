import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { LoraSettings, WeightMap } from '../../../src/runtime/model/api.js';
import { initBackend } from '../../../src/runtime/backend.js';
import { wasmKernelsInstalled } from '../../../src/runtime/kernels/index.js';
import { createCausalLM, type LlamaCausalLM } from '../../../src/runtime/model/causal-lm.js';
import { writeSafetensors } from '../../../src/runtime/model/safetensors.js';
import { isFrozenMatrix, loadWeights } from '../../../src/runtime/model/weights.js';
import * as tf from '../../../src/runtime/tf.js';
import { lcg, randomTensor, randomWeights, tinyConfig } from './fixtures.js';

/**
 * The same 16-bit checkpoint through the two loading paths on wasm: linear weights kept 16-bit in the heap
 * (ftc's half kernels) and widened to float32 on the host (the generic path). Both hold exactly the decoded
 * values, so logits and LoRA gradients may differ only by float32 summation order.
 */
const untiedConfig = tinyConfig({
  hiddenSize: 24, numAttentionHeads: 4, numKeyValueHeads: 2, intermediateSize: 36, vocabSize: 37, attentionBias: true,
  architecture: 'Qwen2ForCausalLM', modelType: 'qwen2',
});
const IDS = [[3, 7, 1, 19, 22, 5], [0, 11, 36, 4, 9, 2]];
const LABELS = [[-100, -100, 1, 19, 22, 5], [-100, 11, 36, -100, 9, 2]];
const LORA: LoraSettings = { r: 2, alpha: 4, targetModules: ['all-linear'], dropout: 0.1, bias: 'all', useRslora: false, seed: 7 };
const DORA: LoraSettings = { r: 2, alpha: 4, targetModules: ['q_proj', 'down_proj'], dropout: 0, bias: 'none', useRslora: false, useDora: true, seed: 3 };

function maxAbs(xs: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < xs.length; i++) m = Math.max(m, Math.abs(xs[i]!));
  return m;
}

function assertNear(actual: ArrayLike<number>, expected: ArrayLike<number>, rel: number, what: string): void {
  assert.equal(actual.length, expected.length, what);
  const scale = maxAbs(expected);
  assert.ok(scale > 0, `${what}: all zero, nothing is checked`);
  for (let i = 0; i < expected.length; i++) {
    if (!(Math.abs(actual[i]! - expected[i]!) <= rel * scale)) assert.fail(`${what}[${i}]: ${actual[i]} vs ${expected[i]}`);
  }
}

/** Builds a model and reports the backend bytes it holds. */
function buildWith(config: typeof untiedConfig, weights: WeightMap, lora: LoraSettings): { model: LlamaCausalLM; bytes: number } {
  const before = tf.memory().numBytes;
  const model = createCausalLM(config, weights, lora);
  return { model, bytes: tf.memory().numBytes - before };
}

function logits(model: LlamaCausalLM, ids: number[][]): Float32Array {
  return tf.tidy(() => model.forward(tf.tensor2d(ids, undefined, 'int32')).dataSync() as Float32Array);
}

function lossGrads(model: LlamaCausalLM): { loss: number; grads: Map<string, Float32Array> } {
  const params = model.adapterParams();
  const rnd = lcg(9);
  // B starts at zero, which would zero A's gradient: the same values in both models.
  tf.tidy(() => {
    for (const [k, v] of params) if (k.endsWith('lora_B.weight')) v.assign(tf.tensor(randomTensor(v.shape, rnd, 0.3).data, v.shape));
  });
  return tf.tidy(() => {
    const ids = tf.tensor2d(IDS, undefined, 'int32');
    const labels = tf.tensor2d(LABELS, undefined, 'int32');
    const { value, grads } = tf.variableGrads(() => model.loss(ids, labels, { training: true, dropoutSeed: 4 }), [...params.values()]);
    const byName = new Map([...params].map(([name, v]) => [name, grads[v.name]!.dataSync() as Float32Array]));
    return { loss: value.dataSync()[0]!, grads: byName } as unknown as tf.TensorContainer;
  }) as unknown as { loss: number; grads: Map<string, Float32Array> };
}

const tiedConfig = { ...untiedConfig, tieWordEmbeddings: true };

for (const [dtype, config] of [['BF16', untiedConfig], ['F16', untiedConfig], ['BF16', tiedConfig]] as const) {
  const tied = config.tieWordEmbeddings;
  const build = (weights: WeightMap, lora: LoraSettings) => buildWith(config, weights, lora);
  describe(`a ${dtype} checkpoint on wasm${tied ? ', embeddings tied to the LM head' : ''}: 16-bit frozen weights against the float32 path`, () => {
    let dir: string;
    before(async () => {
      await initBackend('wasm');
      assert.ok(wasmKernelsInstalled(), 'the 16-bit kernels are installed');
      dir = mkdtempSync(join(tmpdir(), 'ftc-half-model-'));
      writeSafetensors(join(dir, 'model.safetensors'), new Map([...randomWeights(config, 5)].map(([k, t]) => [k, { ...t, dtype }])));
    });
    after(() => rmSync(dir, { recursive: true, force: true }));

    test('keepHalf keeps exactly the linear weights and the embeddings 16-bit; the model holds them at half their float32 bytes', () => {
      const half = loadWeights(dir, config, { keepHalf: true });
      for (const [name, t] of half) assert.equal(t.half !== undefined, isFrozenMatrix(name), name);
      assert.ok(half.get('model.embed_tokens.weight')!.half, 'the embeddings are 16-bit');
      if (!tied) assert.ok(half.has('lm_head.weight') && half.get('lm_head.weight')!.half, 'the untied lm_head is 16-bit too');
      // The float32 path holds a tied head in the embedding's own tensor: no second copy on either side.
      const saved = [...half].filter(([name]) => isFrozenMatrix(name)).reduce((s, [, t]) => {
        const n = t.shape.reduce((a, b) => a * b, 1);
        return s + 4 * n - 4 * Math.ceil(n / 2);
      }, 0);
      const tensorsBefore = tf.memory().numTensors;
      const h = build(half, LORA);
      const f = build(loadWeights(dir, config), LORA);
      assert.equal(f.bytes - h.bytes, saved);
      h.model.dispose();
      f.model.dispose();
      assert.equal(tf.memory().numTensors, tensorsBefore, 'disposing the models frees every tensor');
    });

    test('logits are the same, for a batch (packed tiles) and for one token (the GEMV path)', () => {
      const h = build(loadWeights(dir, config, { keepHalf: true }), LORA).model;
      const f = build(loadWeights(dir, config), LORA).model;
      try {
        assertNear(logits(h, IDS), logits(f, IDS), 1e-5, 'batch logits');
        assertNear(logits(h, [[17]]), logits(f, [[17]]), 1e-5, 'one-token logits');
      } finally {
        h.dispose();
        f.dispose();
      }
    });

    for (const [what, lora] of [['LoRA on all linears, trained biases, dropout', LORA], ['DoRA (reads W densely for its row norms)', DORA]] as const) {
      test(`${what}: loss and adapter gradients equal within 1e-4, and repeated steps leak nothing`, () => {
        const h = build(loadWeights(dir, config, { keepHalf: true }), lora).model;
        const f = build(loadWeights(dir, config), lora).model;
        try {
          const ours = lossGrads(h);
          const ref = lossGrads(f);
          assert.ok(Math.abs(ours.loss - ref.loss) <= 1e-5 * Math.abs(ref.loss), `loss ${ours.loss} vs ${ref.loss}`);
          assert.deepEqual([...ours.grads.keys()].sort(), [...ref.grads.keys()].sort());
          for (const [name, g] of ref.grads) assertNear(ours.grads.get(name)!, g, 1e-4, name);
          const count = tf.memory().numTensors;
          lossGrads(h);
          assert.equal(tf.memory().numTensors, count, 'a second step leaves as many tensors as the first');
        } finally {
          h.dispose();
          f.dispose();
        }
      });
    }
  });
}
