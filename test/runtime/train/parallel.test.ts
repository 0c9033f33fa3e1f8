import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { FtcError } from '../../../src/errors.js';
import { initBackend } from '../../../src/runtime/backend.js';
import type { HostTensor } from '../../../src/runtime/model/api.js';
import { createCausalLM } from '../../../src/runtime/model/causal-lm.js';
import { initModelConfig, initWeights } from '../../../src/runtime/model/init.js';
import { train, type TrainConfig } from '../../../src/runtime/train/loop.js';
import { resolveWorkers, WorkerPool } from '../../../src/runtime/train/parallel/pool.js';
import { tempDir } from '../../helpers.js';
import { countingData } from './tiny-lm.js';

/**
 * Data-parallel training is the same training: two threads (main + one worker) give the single-thread
 * losses and adapter up to float rounding, with LoRA dropout on (masks are per example, not per thread)
 * and gradient accumulation over uneven micro-batches.
 */
const MODEL = { layers: 2, hidden: 16, heads: 4, kvHeads: 2, ffn: 24, vocab: 12, maxPositions: 16, seed: 0, dtype: 'f32' as const, corpus: [] };
const LORA = { r: 2, alpha: 4, targetModules: ['q_proj', 'v_proj', 'down_proj'], dropout: 0.2, bias: 'none' as const, useRslora: false, seed: 5 };
const CONFIG: TrainConfig = {
  batchSize: 3, gradAccum: 2, epochs: 1, maxSteps: 4, lr: 2e-2, weightDecay: 0.01, beta1: 0.9, beta2: 0.999, eps: 1e-8,
  scheduler: 'linear', warmupSteps: 1, warmupRatio: 0, maxGradNorm: 1, logEvery: 1, evalEvery: 0, saveEvery: 0, patience: 0, seed: 11,
};

async function run(threads: number): Promise<{ losses: number[]; adapter: Map<string, HostTensor> }> {
  await initBackend('cpu');
  const config = initModelConfig(MODEL);
  const weights = initWeights(config, 0);
  const model = createCausalLM(config, weights, LORA);
  const pool = threads > 1 ? await WorkerPool.start({ threads, backend: 'cpu', source: { config, weights, lora: LORA }, model }) : undefined;
  try {
    const r = await train({ model, train: countingData(20), padId: 0, config: CONFIG, gradients: pool });
    return { losses: r.metrics.trainLosses(), adapter: model.exportAdapter() };
  } finally {
    await pool?.close();
    model.dispose();
  }
}

function relDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let diff = 0;
  let norm = 0;
  for (let i = 0; i < a.length; i++) {
    diff += (a[i]! - b[i]!) ** 2;
    norm += b[i]! ** 2;
  }
  return Math.sqrt(diff) / Math.max(Math.sqrt(norm), 1e-30);
}

test('2 threads train like 1: same losses and final adapter within 1e-5 relative (dropout 0.2, grad accumulation)', async () => {
  const one = await run(1);
  const two = await run(2);
  assert.equal(one.losses.length, 4);
  for (let i = 0; i < one.losses.length; i++) {
    assert.ok(Math.abs(two.losses[i]! - one.losses[i]!) <= 1e-5 * Math.abs(one.losses[i]!), `step ${i + 1}: ${two.losses[i]} vs ${one.losses[i]}`);
  }
  assert.deepEqual([...two.adapter.keys()], [...one.adapter.keys()]);
  for (const [name, t] of one.adapter) {
    const d = relDiff(two.adapter.get(name)!.data, t.data);
    assert.ok(d <= 1e-5, `${name}: relative difference ${d}`);
  }
  // B starts at zero: a trained B that is non-zero shows the comparison compared trained values.
  assert.ok([...one.adapter].some(([k, t]) => k.endsWith('lora_B.weight') && t.data.some((x) => x !== 0)));
});

test('a worker that cannot build its model fails the start with the FtcError, not a hang', async () => {
  await initBackend('cpu');
  const config = initModelConfig(MODEL);
  const model = createCausalLM(config, initWeights(config, 0), LORA);
  try {
    await assert.rejects(
      WorkerPool.start({ threads: 2, backend: 'cpu', source: { dir: join(tempDir(), 'no-such-model'), lora: LORA }, model }),
      (e: unknown) => e instanceof FtcError && /config\.json|no-such-model/.test(e.message),
    );
  } finally {
    model.dispose();
  }
});

test('an error inside a worker during a step surfaces as a clear error, and the pool still closes', async () => {
  await initBackend('cpu');
  const config = initModelConfig(MODEL);
  const weights = initWeights(config, 0);
  const model = createCausalLM(config, weights, LORA);
  const pool = await WorkerPool.start({ threads: 2, backend: 'cpu', source: { config, weights, lora: LORA }, model });
  try {
    // The second row range holds 2 ids for a [1, 4] share: the worker's tensor2d throws.
    const broken = { ids: new Int32Array([1, 2, 3, 4, 5, 6]), labels: new Int32Array([1, 2, 3, 4, 5, 6, 7, 8]), rows: 2, cols: 4, lossTokens: 6, inputTokens: 6 };
    await assert.rejects(pool.gradients([broken], () => 1), /training worker 1 failed: .*shape/i);
    // Later steps fail the same way instead of waiting on a worker that will not answer.
    await assert.rejects(pool.gradients([broken], () => 1), /training worker 1 failed/);
  } finally {
    await pool.close();
    model.dispose();
  }
});

test('resolveWorkers: auto is every core on wasm/cpu, 1 on native backends; never more than a batch has rows', () => {
  assert.equal(resolveWorkers(3, 'wasm', 8), 3);
  assert.equal(resolveWorkers(8, 'cpu', 4), 4);
  assert.equal(resolveWorkers('auto', 'tensorflow', 8), 1);
  assert.ok(resolveWorkers('auto', 'wasm', 64) >= 1);
  assert.equal(resolveWorkers(undefined, 'cpu', 1), 1);
});
