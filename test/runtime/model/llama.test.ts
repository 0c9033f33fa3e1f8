import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { HostTensor, LoraSettings } from '../../../src/runtime/model/api.js';
import { initBackend } from '../../../src/runtime/backend.js';
import { createCausalLM } from '../../../src/runtime/model/causal-lm.js';
import type { LlamaConfig } from '../../../src/model-spec/config.js';
import * as tf from '../../../src/runtime/tf.js';
import { lcg, randomTensor, randomWeights, tinyConfig } from './fixtures.js';
import { referenceLogits, type RefLora } from './reference.js';

const IDS = [
  [3, 7, 1, 19, 22, 5],
  [0, 11, 11, 4, 9, 2],
];

function lora(over: Partial<LoraSettings> = {}): LoraSettings {
  return { r: 2, alpha: 4, targetModules: ['all-linear'], dropout: 0, bias: 'none', useRslora: false, seed: 7, ...over };
}

function maxAbsDiff(a: number[][][], b: number[][][]): number {
  let m = 0;
  a.forEach((s, i) => s.forEach((row, j) => row.forEach((v, k) => (m = Math.max(m, Math.abs(v - b[i][j][k]))))));
  return m;
}

/** Exports the adapter, replaces every B by random values, imports it back; returns the reference's view. */
function randomiseAdapter(model: ReturnType<typeof createCausalLM>, scaling: number): RefLora {
  const rnd = lcg(99);
  const exported = model.exportAdapter();
  const modules: RefLora['modules'] = new Map();
  for (const [key, t] of exported) {
    if (!key.endsWith('.lora_B.weight')) continue;
    const b = randomTensor(t.shape, rnd, 0.5);
    exported.set(key, b);
  }
  model.importAdapter(exported);
  for (const [key, t] of exported) {
    const m = /^base_model\.model\.(.*)\.lora_A\.weight$/.exec(key);
    if (m) modules.set(m[1], { A: t, B: exported.get(`base_model.model.${m[1]}.lora_B.weight`) as HostTensor });
  }
  return { scaling, modules };
}

function check(config: LlamaConfig, settings?: LoraSettings, nonZero = false): void {
  const weights = randomWeights(config, 3);
  const model = createCausalLM(config, weights, settings);
  try {
    const ref = nonZero && settings ? randomiseAdapter(model, settings.useRslora ? settings.alpha / Math.sqrt(settings.r) : settings.alpha / settings.r) : undefined;
    const ids = tf.tensor2d(IDS, undefined, 'int32');
    const logits = model.forward(ids);
    const got = logits.arraySync() as number[][][];
    tf.dispose([ids, logits]);
    const want = referenceLogits(config, weights, IDS, ref);
    const diff = maxAbsDiff(got, want);
    assert.ok(diff < 1e-4, `max |tfjs - reference| = ${diff}`);
    // Guard against a vacuous match: the logits must actually vary.
    assert.ok(Math.abs(want[0][0][0] - want[0][1][0]) > 1e-3);
  } finally {
    model.dispose();
  }
}

for (const backend of ['cpu', 'wasm'] as const) {
  describe(`Llama forward matches the loop reference (${backend})`, () => {
    before(async () => {
      await initBackend(backend);
    });
    test('GQA (4 heads, 2 kv heads), untied head', () => check(tinyConfig()));
    test('MHA (4 heads, 4 kv heads)', () => check(tinyConfig({ numKeyValueHeads: 4 })));
    if (backend === 'wasm') return; // the remaining cases exercise model code, not backend kernels
    test('tied embeddings', () => check(tinyConfig({ tieWordEmbeddings: true })));
    test('qkv bias (Qwen2)', () => check(tinyConfig({ attentionBias: true, architecture: 'Qwen2ForCausalLM', modelType: 'qwen2' })));
    test('linear rope scaling and another theta', () => check(tinyConfig({ ropeScaling: { type: 'linear', factor: 2.5 }, ropeTheta: 500 })));
    test('a zero adapter (B = 0) leaves the logits of the base', () => check(tinyConfig(), lora()));
    test('a non-zero adapter on all linear layers', () => check(tinyConfig(), lora(), true));
    test('a non-zero rsLoRA adapter on q_proj and v_proj with GQA', () => check(tinyConfig(), lora({ targetModules: ['q_proj', 'v_proj'], useRslora: true, r: 4 }), true));
  });
}

describe('backend', () => {
  after(async () => {
    await initBackend('cpu');
  });
  test('auto records why each earlier backend did not load', async () => {
    const choice = await initBackend('auto');
    assert.ok(['tensorflow-gpu', 'tensorflow', 'wasm', 'cpu'].includes(choice.name));
    assert.equal(choice.tried.at(-1)!.name, choice.name);
    assert.ok(choice.tried.at(-1)!.ok);
    for (const t of choice.tried.slice(0, -1)) assert.ok(!t.ok && t.reason.length > 0);
    assert.equal(tf.getBackend(), choice.name === 'tensorflow-gpu' ? 'tensorflow' : choice.name);
  });
});
