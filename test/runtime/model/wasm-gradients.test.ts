import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { LoraSettings } from '../../../src/runtime/model/api.js';
import { initBackend } from '../../../src/runtime/backend.js';
import { wasmKernelsInstalled } from '../../../src/runtime/kernels/index.js';
import { createCausalLM } from '../../../src/runtime/model/causal-lm.js';
import type { LlamaConfig } from '../../../src/model-spec/config.js';
import * as tf from '../../../src/runtime/tf.js';
import { lcg, randomTensor, randomWeights, tinyConfig } from './fixtures.js';

/**
 * The wasm fast paths (ftc's matmul kernels, the sharing Identity, transposed-flag gradients, RoPE's
 * permutation product, the fused cross-entropy) must train what the cpu backend trains. The cpu backend's
 * gradients are checked against finite differences in lora.test.ts; here wasm's must equal them.
 */
const IDS = [[3, 7, 1, 19, 22, 5], [0, 11, 11, 4, 9, 2]];
const LABELS = [[-100, -100, 1, 19, 22, 5], [-100, 11, 11, -100, 9, 2]];

interface Result {
  loss: number;
  grads: Map<string, Float32Array>;
}

function lossAndGrads(config: LlamaConfig, lora: LoraSettings, training: boolean): Result {
  const model = createCausalLM(config, randomWeights(config, 5), lora);
  try {
    const rnd = lcg(9);
    const params = model.adapterParams();
    // B starts at zero, which would zero A's gradient: give it values first (same on both backends).
    for (const [k, v] of params) if (k.endsWith('lora_B.weight')) v.assign(tf.tensor(randomTensor(v.shape, rnd, 0.3).data, v.shape));
    return tf.tidy(() => {
      const ids = tf.tensor2d(IDS, undefined, 'int32');
      const labels = tf.tensor2d(LABELS, undefined, 'int32');
      const { value, grads } = tf.variableGrads(() => model.loss(ids, labels, { training, dropoutSeed: 4 }), [...params.values()]);
      const byName = new Map([...params].map(([name, v]) => [name, grads[v.name]!.dataSync() as Float32Array]));
      return { loss: value.dataSync()[0]!, grads: byName } as unknown as tf.TensorContainer;
    }) as unknown as Result;
  } finally {
    model.dispose();
  }
}

function assertSame(wasm: Result, cpu: Result, what: string): void {
  assert.ok(Math.abs(wasm.loss - cpu.loss) <= 1e-5 * Math.abs(cpu.loss), `${what}: loss ${wasm.loss} vs ${cpu.loss}`);
  assert.deepEqual([...wasm.grads.keys()].sort(), [...cpu.grads.keys()].sort());
  for (const [name, g] of cpu.grads) {
    const w = wasm.grads.get(name)!;
    let scale = 0;
    for (const x of g) scale = Math.max(scale, Math.abs(x));
    assert.ok(scale > 0, `${what}: ${name} has an all-zero gradient, nothing is checked`);
    for (let i = 0; i < g.length; i++) {
      if (!(Math.abs(w[i]! - g[i]!) <= 1e-4 * scale)) assert.fail(`${what}: ${name}[${i}] wasm ${w[i]} vs cpu ${g[i]}`);
    }
  }
}

describe('wasm training gradients equal the cpu backend', () => {
  const cases: Array<[string, LlamaConfig, LoraSettings, boolean]> = [
    ['GQA, q/v adapters', tinyConfig(), { r: 4, alpha: 8, targetModules: ['q_proj', 'v_proj'], dropout: 0, bias: 'none', useRslora: false, seed: 3 }, false],
    ['MHA, all-linear, qkv bias trained, dropout',
      tinyConfig({ numKeyValueHeads: 4, attentionBias: true, architecture: 'Qwen2ForCausalLM', modelType: 'qwen2' }),
      { r: 2, alpha: 4, targetModules: ['all-linear'], dropout: 0.1, bias: 'all', useRslora: false, seed: 7 }, true],
  ];
  for (const [what, config, lora, training] of cases) {
    test(what, async () => {
      await initBackend('cpu');
      const cpu = lossAndGrads(config, lora, training);
      await initBackend('wasm');
      assert.ok(wasmKernelsInstalled(), 'the fast path under test is installed');
      const wasm = lossAndGrads(config, lora, training);
      assertSame(wasm, cpu, what);
    });
  }

  test('repeated wasm training steps keep tensor count and bytes constant', async () => {
    await initBackend('wasm');
    const config = tinyConfig();
    const model = createCausalLM(config, randomWeights(config, 5), { r: 4, alpha: 8, targetModules: ['q_proj', 'v_proj'], dropout: 0.1, bias: 'none', useRslora: false, seed: 3 });
    const ids = tf.tensor2d(IDS, undefined, 'int32');
    const labels = tf.tensor2d(LABELS, undefined, 'int32');
    const once = (): void => {
      const { value, grads } = tf.variableGrads(() => model.loss(ids, labels, { training: true, dropoutSeed: 1 }));
      tf.dispose([value, ...Object.values(grads)]);
    };
    once();
    const start = tf.memory();
    for (let i = 0; i < 4; i++) once();
    assert.equal(tf.memory().numTensors, start.numTensors);
    assert.equal(tf.memory().numBytes, start.numBytes);
    tf.dispose([ids, labels]);
    model.dispose();
  });
});
