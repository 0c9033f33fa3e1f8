/**
 * llama-train.test.ts's guarantees on a 4-bit base, on the wasm backend where the 4-bit kernels serve every frozen
 * linear: same seed, same losses; killed after a checkpoint and resumed, the same losses; eval loss falls; no tensor
 * leaks across steps.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { initBackend } from '../../../src/runtime/backend.js';
import { createCausalLM } from '../../../src/runtime/model/causal-lm.js';
import { initModelConfig, initWeights } from '../../../src/runtime/model/init.js';
import { quantizeWeightMap } from '../../../src/runtime/quant/base-4bit.js';
import { nf4KernelAvailable } from '../../../src/runtime/quant/nf4-kernel.js';
import * as tf from '../../../src/runtime/tf.js';
import { CheckpointDir, peftAdapterFiles } from '../../../src/runtime/train/checkpoint.js';
import { train, type TrainConfig } from '../../../src/runtime/train/loop.js';
import { tempDir } from '../../helpers.js';
import { countingData } from '../train/tiny-lm.js';

const MODEL = { layers: 1, hidden: 32, heads: 2, kvHeads: 1, ffn: 40, vocab: 12, maxPositions: 16, seed: 0, dtype: 'f32' as const, corpus: [] };
const QUANT = { type: 'nf4' as const, doubleQuant: true };
const LORA = { r: 2, alpha: 4, targetModules: ['q_proj', 'v_proj', 'down_proj'], dropout: 0.1, bias: 'none' as const, useRslora: false, seed: 5, quantization: QUANT };
const CONFIG: TrainConfig = {
  batchSize: 4, gradAccum: 1, epochs: 2, lr: 2e-2, weightDecay: 0, beta1: 0.9, beta2: 0.999, eps: 1e-8,
  scheduler: 'linear', warmupSteps: 1, warmupRatio: 0, maxGradNorm: 1, logEvery: 1, evalEvery: 0, saveEvery: 3, patience: 0, seed: 11,
};
const TRAIN = countingData(24);
const EVAL = countingData(6, { seed: 3 });
const files = peftAdapterFiles({ ...LORA, baseModel: 'tiny' });

function qloraModel() {
  const config = initModelConfig(MODEL);
  const weights = initWeights(config, 0);
  const quantized = quantizeWeightMap(weights, config, QUANT);
  return createCausalLM(config, weights, LORA, { quantized });
}

async function run(extra: { root?: string; halt?: number; resume?: boolean } = {}) {
  await initBackend('wasm');
  assert.ok(nf4KernelAvailable(), 'the 4-bit kernels serve this backend');
  const model = qloraModel();
  try {
    const r = await train({
      model, train: TRAIN, eval: EVAL, padId: 0, config: CONFIG,
      checkpoints: new CheckpointDir(extra.root ?? join(tempDir(), 'ck'), files), haltAfterStep: extra.halt, resume: extra.resume,
    });
    return { losses: r.metrics.trainLosses(), evals: r.metrics.evalLosses() };
  } finally {
    model.dispose();
  }
}

test('QLoRA on wasm: same seed, same losses; killed after a checkpoint and resumed, the same losses again; eval loss falls', async () => {
  const full = await run();
  assert.equal(full.losses.length, 12);
  assert.ok(full.evals.at(-1)! < full.evals[0]!, `${full.evals}`);
  assert.deepEqual((await run()).losses, full.losses);
  const root = join(tempDir(), 'ck');
  await run({ root, halt: 7 });
  const resumed = await run({ root, resume: true });
  assert.deepEqual(resumed.losses, full.losses);
  assert.deepEqual(resumed.evals, full.evals);
});

test('QLoRA on wasm: tf.memory().numTensors is the same after 10 steps as after 1', async () => {
  await initBackend('wasm');
  const model = qloraModel();
  const counts: number[] = [];
  for (const steps of [1, 10]) {
    await train({ model, train: TRAIN, eval: EVAL, padId: 0, config: { ...CONFIG, maxSteps: steps, logEvery: 4, evalEvery: 3 } });
    counts.push(tf.memory().numTensors);
  }
  assert.equal(counts[1], counts[0]);
  model.dispose();
});
