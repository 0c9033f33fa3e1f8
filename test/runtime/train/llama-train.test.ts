import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import * as tf from '../../../src/runtime/tf.js';
import { initBackend } from '../../../src/runtime/backend.js';
import { createCausalLM } from '../../../src/runtime/model/causal-lm.js';
import { initModelConfig, initWeights } from '../../../src/runtime/model/init.js';
import { CheckpointDir, peftAdapterFiles } from '../../../src/runtime/train/checkpoint.js';
import { evalLoss, train, type TrainConfig } from '../../../src/runtime/train/loop.js';
import { tempDir } from '../../helpers.js';
import { countingData } from './tiny-lm.js';

/**
 * The same guarantees as loop.test.ts, on the real Llama CausalLM with LoRA dropout: it stores its LoRA
 * matrices transposed, so checkpoints go through exportAdapter/importAdapter.
 */
const MODEL = { layers: 1, hidden: 16, heads: 2, kvHeads: 1, ffn: 24, vocab: 12, maxPositions: 16, seed: 0, dtype: 'f32' as const, corpus: [] };
const LORA = { r: 2, alpha: 4, targetModules: ['q_proj', 'v_proj', 'down_proj'], dropout: 0.1, bias: 'none' as const, useRslora: false, seed: 5 };
const CONFIG: TrainConfig = {
  batchSize: 4, gradAccum: 1, epochs: 2, lr: 2e-2, weightDecay: 0, beta1: 0.9, beta2: 0.999, eps: 1e-8,
  scheduler: 'linear', warmupSteps: 1, warmupRatio: 0, maxGradNorm: 1, logEvery: 1, evalEvery: 0, saveEvery: 3, patience: 0, seed: 11,
};
const TRAIN = countingData(24);
const EVAL = countingData(6, { seed: 3 });
const files = peftAdapterFiles({ ...LORA, baseModel: 'tiny' });

async function run(extra: { root?: string; halt?: number; resume?: boolean } = {}) {
  await initBackend('cpu');
  const config = initModelConfig(MODEL);
  const model = createCausalLM(config, initWeights(config, 0), LORA);
  try {
    const r = await train({
      model, train: TRAIN, eval: EVAL, padId: 0, config: CONFIG,
      checkpoints: new CheckpointDir(extra.root ?? join(tempDir(), 'ck'), files), haltAfterStep: extra.halt, resume: extra.resume,
    });
    return { losses: r.metrics.trainLosses(), evals: r.metrics.evalLosses(), lastEval: r.lastEvalLoss };
  } finally {
    model.dispose();
  }
}

test('Llama + LoRA: same seed, same losses; killed after a checkpoint and resumed, the same losses again; eval loss falls', async () => {
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

test('Llama + LoRA: a saved checkpoint adapter reloads into a fresh model with the same eval loss', async () => {
  await initBackend('cpu');
  const root = join(tempDir(), 'ck');
  await run({ root, halt: 6 });
  const snap = await new CheckpointDir(root, files).latest();
  assert.equal(snap!.step, 6);
  const config = initModelConfig(MODEL);
  const a = createCausalLM(config, initWeights(config, 0), LORA);
  const b = createCausalLM(config, initWeights(config, 0), LORA);
  b.importAdapter(snap!.adapter);
  // c: the same 6 steps trained in memory (evaluation changes neither parameters nor dropout seeds).
  const c = createCausalLM(config, initWeights(config, 0), LORA);
  await train({ model: c, train: TRAIN, padId: 0, config: { ...CONFIG, maxSteps: undefined }, haltAfterStep: 6 });
  const [la, lb, lc] = [a, b, c].map((m) => evalLoss(m, EVAL, 4, 0));
  assert.notEqual(la, lb, 'the reloaded adapter is not the initial one');
  assert.ok(Math.abs(lb! - lc!) < 1e-6, `${lb} vs ${lc}`);
  for (const m of [a, b, c]) m.dispose();
});

test('Llama + LoRA: tf.memory().numTensors is the same after 10 steps as after 1', async () => {
  await initBackend('cpu');
  const config = initModelConfig(MODEL);
  const model = createCausalLM(config, initWeights(config, 0), LORA);
  const counts: number[] = [];
  for (const steps of [1, 10]) {
    await train({ model, train: TRAIN, eval: EVAL, padId: 0, config: { ...CONFIG, maxSteps: steps, logEvery: 4, evalEvery: 3 } });
    counts.push(tf.memory().numTensors);
  }
  assert.equal(counts[1], counts[0]);
  model.dispose();
});
