/**
 * A QLoRA model built with the plan's `streamed` placement (loadCausalLM's streamQuantized: 4-bit linears on the
 * host, staged per product) trains exactly as the resident one: the same kernel on the same state, so the losses
 * of a few steps are equal bit for bit; the backend holds less by the 4-bit linears' size; no tensor leaks.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { initBackend } from '../../../src/runtime/backend.js';
import { loadCausalLM } from '../../../src/runtime/model/causal-lm.js';
import * as tf from '../../../src/runtime/tf.js';
import { train } from '../../../src/runtime/train/loop.js';
import { localEngine } from '../../../src/runtime/train/step.js';
import { runCli, tempDir } from '../../helpers.js';

test('streamed 4-bit linears: the same losses as resident ones, bit for bit, with the linears out of the backend', async () => {
  const dir = tempDir();
  const init = runCli(['init-model', 'model', '--layers', '3', '--hidden', '128', '--heads', '4', '--kv-heads', '2', '--ffn', '256', '--vocab', '300', '--max-positions', '64'], { cwd: dir });
  assert.equal(init.status, 0, init.stderr);
  await initBackend('wasm');
  const lora = { r: 4, alpha: 8, targetModules: ['q_proj', 'v_proj'], dropout: 0.1, bias: 'none' as const, useRslora: false, seed: 1, quantization: { type: 'nf4' as const, doubleQuant: true } };
  let s = 7;
  const examples = Array.from({ length: 4 }, () => {
    const ids = Int32Array.from({ length: 32 }, () => (s = (Math.imul(s, 1664525) + 1013904223) >>> 0) % 300);
    return { ids, labels: ids.slice() };
  });
  const run = async (streamQuantized: boolean) => {
    const before = tf.memory();
    const model = loadCausalLM(join(dir, 'model'), { lora, streamQuantized });
    const held = tf.memory().numBytes - before.numBytes;
    const tensors = tf.memory().numTensors;
    const result = await train({
      model, train: { count: examples.length, example: (i) => examples[i]! }, padId: 0,
      config: {
        batchSize: 2, gradAccum: 1, epochs: 1, lr: 1e-2, weightDecay: 0.01, beta1: 0.9, beta2: 0.999, eps: 1e-8, scheduler: 'linear',
        warmupSteps: 0, warmupRatio: 0, maxGradNorm: 1, logEvery: 1, evalEvery: 0, saveEvery: 0, patience: 0, seed: 3, maxSteps: 2,
      },
      gradients: localEngine(model, { gradientCheckpointing: true }),
    });
    assert.equal(tf.memory().numTensors, tensors, 'no tensor outlives the steps');
    model.dispose();
    assert.equal(tf.memory().numTensors, before.numTensors, 'dispose frees everything');
    return { held, losses: result.metrics.records.filter((r) => r.loss !== undefined).map((r) => r.loss as number) };
  };
  const resident = await run(false);
  const streamed = await run(true);
  assert.equal(resident.losses.length, 2);
  assert.deepEqual(streamed.losses, resident.losses);
  // 3 layers × 7 linears of 4-bit codes and float32 absmax: what streaming takes out of the backend.
  const linears = 3 * (2 * 128 * 128 + 2 * 128 * 64 + 3 * 128 * 256);
  assert.equal(resident.held - streamed.held, linears * (0.5 + 4 / 64) + 3 * 7 * 4 * (16 + 512));
});
