import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '../../../src/runtime/tf.js';
import { initBackend } from '../../../src/runtime/backend.js';
import { isFtcError } from '../../../src/errors.js';
import { CheckpointDir, peftAdapterFiles } from '../../../src/runtime/train/checkpoint.js';
import { clipByNorm, evalLoss, globalNorm, train, type TrainConfig, type TrainInputs } from '../../../src/runtime/train/loop.js';
import { MetricsLog } from '../../../src/runtime/train/metrics.js';
import { tempDir } from '../../helpers.js';
import { countingData, tinyLM } from './tiny-lm.js';

const CONFIG: TrainConfig = {
  batchSize: 3, gradAccum: 2, epochs: 3, lr: 0.05, weightDecay: 0.01, beta1: 0.9, beta2: 0.999, eps: 1e-8,
  scheduler: 'cosine', warmupSteps: 2, warmupRatio: 0, maxGradNorm: 1, logEvery: 1, evalEvery: 0, saveEvery: 0, patience: 0, seed: 3,
};
const TRAIN = countingData(20);
const EVAL = countingData(6, { seed: 99 });
const ADAPTER = { r: 2, alpha: 4, dropout: 0.2, targetModules: ['q_proj'], bias: 'none' as const, useRslora: false, baseModel: 'tiny' };

async function run(over: Partial<TrainConfig> = {}, extra: Partial<TrainInputs> = {}, modelOpts = {}) {
  await initBackend('cpu');
  const model = tinyLM({ dropout: 0.2, ...modelOpts });
  try {
    const result = await train({ model, train: TRAIN, eval: EVAL, padId: 0, config: { ...CONFIG, ...over }, ...extra });
    return { result, losses: result.metrics.trainLosses(), evals: result.metrics.evalLosses() };
  } finally {
    model.dispose();
  }
}

test('global norm and clipping follow torch.nn.utils.clip_grad_norm_', async () => {
  await initBackend('cpu');
  const grads = { a: tf.tensor1d([3, 4]), b: tf.tensor1d([12]) };
  const norm = globalNorm(Object.values(grads));
  assert.ok(Math.abs(norm.dataSync()[0]! - 13) < 1e-5);
  const clipped = clipByNorm(grads, norm, 1);
  const s = 1 / (13 + 1e-6);
  const got = [...clipped.a!.dataSync(), ...clipped.b!.dataSync()];
  [3 * s, 4 * s, 12 * s].forEach((e, i) => assert.ok(Math.abs(got[i]! - e) < 1e-6));
  const small = clipByNorm({ c: tf.tensor1d([0.3, 0.4]) }, tf.scalar(0.5), 1); // below the max: unchanged
  assert.deepEqual([...small.c!.dataSync()].map((v) => Math.round(v * 1e6) / 1e6), [0.3, 0.4]);
  for (const t of [norm, ...Object.values(clipped), ...Object.values(small)]) t.dispose();
});

test('training lowers the eval loss and logs every step', async () => {
  const { result, losses, evals } = await run({ evalOnStart: true });
  assert.equal(result.totalSteps, 3 * Math.ceil(Math.ceil(20 / 3) / 2)); // 7 micro-batches → 4 steps per epoch
  assert.equal(losses.length, result.totalSteps);
  assert.equal(evals.length, 1 + 3); // baseline + each epoch end
  assert.ok(evals.at(-1)! < evals[0]! - 0.05, `eval losses ${evals}`);
  assert.equal(result.stopReason, 'completed');
});

test('two runs with the same seed give identical loss sequences; another seed differs', async () => {
  const a = await run();
  const b = await run();
  assert.deepEqual(b.losses, a.losses);
  assert.deepEqual(b.evals, a.evals);
  const c = await run({ seed: 4 });
  assert.notDeepEqual(c.losses, a.losses);
});

test('a run stopped after a checkpoint and resumed gives the same losses as one uninterrupted run', async () => {
  const full = await run({ saveEvery: 3, logEvery: 2 }, { checkpoints: new CheckpointDir(join(tempDir(), 'ck'), peftAdapterFiles(ADAPTER)) });
  for (const killAt of [6, 7]) {
    const root = join(tempDir(), 'ck');
    const store = new CheckpointDir(root, peftAdapterFiles(ADAPTER));
    const first = await run({ saveEvery: 3, logEvery: 2 }, { checkpoints: store, haltAfterStep: killAt });
    assert.equal(first.result.stopReason, 'halted');
    assert.deepEqual(store.steps(), [3, 6]);
    const resumed = await run({ saveEvery: 3, logEvery: 2 }, { checkpoints: store, resume: true });
    assert.equal(resumed.result.resumedFrom, 6);
    assert.deepEqual(resumed.losses, full.losses, `killed at ${killAt}`);
    assert.deepEqual(resumed.evals, full.evals);
  }
});

test('tf.memory().numTensors is the same after 10 steps as after 1', async () => {
  await initBackend('cpu');
  const model = tinyLM({ dropout: 0.2 });
  const counts: number[] = [];
  for (const steps of [1, 10]) {
    await train({ model, train: TRAIN, eval: EVAL, padId: 0, config: { ...CONFIG, maxSteps: steps, logEvery: 3, evalEvery: 4 } });
    counts.push(tf.memory().numTensors);
  }
  assert.equal(counts[1], counts[0]);
  model.dispose();
});

test('a NaN loss stops the run with a clear error and keeps the last good checkpoint', async () => {
  const root = join(tempDir(), 'ck');
  const store = new CheckpointDir(root, peftAdapterFiles(ADAPTER));
  // Training calls past the 9th (step 5 with 2 micro-batches per step) return NaN; logs every 10 steps,
  // so only the checkpoint at step 6 syncs, sees it, and must not be written.
  await assert.rejects(
    run({ saveEvery: 2, logEvery: 10 }, { checkpoints: store }, { nanAfterCalls: 9 }),
    (e: unknown) => isFtcError(e) && e.code === 'E_TRAIN_NONFINITE' && /step 6/.test(e.message),
  );
  assert.deepEqual(store.steps(), [2, 4]);
  assert.deepEqual(readdirSync(root).sort(), ['step-2', 'step-4']);
  const snap = await store.latest();
  assert.ok([...snap!.adapter.values()].every((t) => t.data.every(Number.isFinite)));
});

test('early stopping ends the run when eval loss stops improving', async () => {
  // Eval sequences step by 7 while training steps by 1: fitting the training data raises the eval loss.
  const evalDown = countingData(6, { seed: 5, step: 7 });
  const { result, evals } = await run({ evalEvery: 1, evalOnStart: true, patience: 2, lr: 0.1, warmupSteps: 0 }, { eval: evalDown });
  assert.equal(result.stopReason, 'early-stopping');
  assert.equal(result.steps, 2);
  assert.ok(evals[1]! > evals[0]! && evals[2]! > evals[0]!, `${evals}`);
});

test('the adapter saved in PEFT format reloads into a fresh model and reproduces the eval loss', async () => {
  await initBackend('cpu');
  const model = tinyLM({ dropout: 0.2 });
  const metrics = new MetricsLog();
  const r = await train({ model, train: TRAIN, eval: EVAL, padId: 0, config: { ...CONFIG, maxSteps: 5 }, metrics });
  const dir = tempDir();
  const files = peftAdapterFiles(ADAPTER);
  files.save(dir, new Map([...model.adapterParams()].map(([k, v]) => [k, { shape: v.shape, data: v.dataSync() as Float32Array }])));
  assert.ok(existsSync(join(dir, 'adapter_config.json')) && existsSync(join(dir, 'adapter_model.safetensors')));
  model.dispose();

  const fresh = tinyLM({ dropout: 0.2 }); // same base weights (same seed), initial adapter
  const before = evalLoss(fresh, EVAL, 3, 0);
  for (const [k, t] of await files.load(dir)) fresh.adapterParams().get(k)!.assign(tf.tensor(t.data, t.shape));
  const after = evalLoss(fresh, EVAL, 3, 0);
  assert.notEqual(before, r.lastEvalLoss);
  assert.ok(Math.abs(after - r.lastEvalLoss!) < 1e-6, `${after} vs ${r.lastEvalLoss}`);
  fresh.dispose();
});
