/**
 * Full fine-tuning (createCausalLM with `full`): every weight is a Variable under its Hugging Face name, and
 * its gradient equals central finite differences of the loss computed by the independent float64 reference
 * forward (reference.ts), for a few entries of each kind of weight: embeddings, norms, every linear (and its
 * bias), the LM head, and tied embeddings (read by the lookup and the head at once).
 */
import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import type { WeightMap } from '../../../src/runtime/model/api.js';
import { initBackend } from '../../../src/runtime/backend.js';
import { createCausalLM } from '../../../src/runtime/model/causal-lm.js';
import type { LlamaConfig } from '../../../src/model-spec/config.js';
import { expectedWeightShapes, isOptionalWeight } from '../../../src/model-spec/modules.js';
import * as tf from '../../../src/runtime/tf.js';
import { randomWeights, tinyConfig } from './fixtures.js';
import { referenceLogits } from './reference.js';

const IDS = [[3, 7, 1, 19, 22, 5], [8, 2, 14, 11, 0, 9]];
const LABELS = [[-100, 7, 1, 19, 22, 5], [-100, -100, 14, 11, 0, -100]];

/** The weights with float64 values: the reference then differentiates without float32 rounding. */
function widened(w: WeightMap): WeightMap {
  return new Map([...w].map(([k, t]) => [k, { shape: t.shape, data: Float64Array.from(t.data) as unknown as Float32Array }]));
}

/** Mean next-token cross-entropy of the reference logits over counted labels (HF's shift), in float64. */
function referenceLoss(c: LlamaConfig, w: WeightMap): number {
  const logits = referenceLogits(c, w, IDS);
  let sum = 0, count = 0;
  logits.forEach((seq, b) => {
    for (let t = 0; t + 1 < seq.length; t++) {
      const target = LABELS[b]![t + 1]!;
      if (target === -100) continue;
      const row = seq[t]!;
      const max = Math.max(...row);
      const lse = max + Math.log(row.reduce((s, v) => s + Math.exp(v - max), 0));
      sum += lse - row[target]!;
      count++;
    }
  });
  return sum / count;
}

/** d loss / d w[name][i] by central differences of the float64 reference. */
function finiteDifference(c: LlamaConfig, w64: WeightMap, name: string, i: number): number {
  const h = 1e-5;
  const data = w64.get(name)!.data as unknown as Float64Array;
  const at = (d: number): number => {
    const saved = data[i]!;
    data[i] = saved + d;
    const l = referenceLoss(c, w64);
    data[i] = saved;
    return l;
  };
  return (at(h) - at(-h)) / (2 * h);
}

/** ftc's gradient of every trained weight, by HF name, as host arrays. */
function ftcGradients(c: LlamaConfig, w: WeightMap, gradientCheckpointing = false): Map<string, Float32Array> {
  const model = createCausalLM(c, new Map(w), undefined, { full: {} });
  const params = model.adapterParams();
  const ids = tf.tensor2d(IDS, undefined, 'int32');
  const labels = tf.tensor2d(LABELS, undefined, 'int32');
  const { value, grads } = tf.variableGrads(() => model.loss(ids, labels, { training: true, gradientCheckpointing }), [...params.values()]);
  const byName = new Map([...params].map(([name, v]) => [name, grads[v.name]!.dataSync() as Float32Array]));
  tf.dispose([value, ids, labels, ...Object.values(grads)]);
  model.dispose();
  return byName;
}

/** A few entries of each weight: spread over the flat index, so rows and columns both vary. */
const probes = (size: number): number[] => [0, Math.floor(size / 3) + 1, size - 2];

describe('full fine-tuning', () => {
  before(async () => {
    await initBackend('cpu');
  });

  const cases: Array<[string, LlamaConfig]> = [
    ['untied, qkv bias (Qwen2)', tinyConfig({ attentionBias: true, architecture: 'Qwen2ForCausalLM', modelType: 'qwen2' })],
    ['tied embeddings (one Variable for the lookup and the head)', tinyConfig({ tieWordEmbeddings: true })],
  ];
  for (const [label, config] of cases) {
    test(`${label}: every weight trains, under its HF name, with the gradient finite differences of the float64 reference give`, () => {
      const weights = randomWeights(config, 5);
      const grads = ftcGradients(config, weights);
      const expected = [...expectedWeightShapes(config).keys()].filter((n) => !isOptionalWeight(n, config) && weights.has(n));
      assert.deepEqual([...grads.keys()].sort(), expected.sort(), 'exactly the model\'s weights, lm_head once when tied');
      const w64 = widened(weights);
      let compared = 0;
      for (const [name, g] of grads) {
        for (const i of probes(g.length)) {
          const fd = finiteDifference(config, w64, name, i);
          assert.ok(Math.abs(g[i]! - fd) <= 2e-5 + 1e-3 * Math.abs(fd), `${name}[${i}]: ftc ${g[i]} vs finite differences ${fd}`);
          compared++;
        }
      }
      // A weight whose probes all have zero gradient would compare nothing: most must be non-zero.
      const nonZero = [...grads.values()].filter((g) => g.some((x) => Math.abs(x) > 1e-6)).length;
      assert.ok(nonZero >= grads.size - 1, `${nonZero} of ${grads.size} weights have a gradient`);
      assert.ok(compared >= 3 * grads.size);
    });
  }

  test('gradient checkpointing recomputes the layers with their trained weights: the same gradients', () => {
    const config = cases[0]![1];
    const weights = randomWeights(config, 5);
    const plain = ftcGradients(config, weights);
    const recomputed = ftcGradients(config, weights, true);
    for (const [name, g] of plain) {
      const r = recomputed.get(name)!;
      for (let i = 0; i < g.length; i++) assert.ok(Math.abs(g[i]! - r[i]!) <= 1e-6 + 1e-5 * Math.abs(g[i]!), `${name}[${i}]: ${g[i]} vs ${r[i]}`);
    }
  });

  test('train_modules: only the named modules are Variables (a linear with its bias); the rest stay frozen tensors', () => {
    const config = cases[0]![1];
    const model = createCausalLM(config, randomWeights(config), undefined, { full: { trainModules: ['q_proj', 'norm', 'lm_head'] } });
    const names = [...model.adapterParams().keys()].sort();
    assert.deepEqual(names, [
      'lm_head.weight', 'model.layers.0.self_attn.q_proj.bias', 'model.layers.0.self_attn.q_proj.weight',
      'model.layers.1.self_attn.q_proj.bias', 'model.layers.1.self_attn.q_proj.weight', 'model.norm.weight',
    ]);
    model.dispose();
  });

  test('no tensor leaks over training steps, and dispose frees the model', () => {
    const config = tinyConfig({ tieWordEmbeddings: true });
    const before = tf.memory().numTensors;
    const model = createCausalLM(config, randomWeights(config), undefined, { full: {} });
    const params = [...model.adapterParams().values()];
    const ids = tf.tensor2d(IDS, undefined, 'int32');
    const labels = tf.tensor2d(LABELS, undefined, 'int32');
    const step = () => {
      const { value, grads } = tf.variableGrads(() => model.loss(ids, labels, { training: true }), params);
      tf.tidy(() => params.forEach((p) => p.assign(tf.sub(p, tf.mul(grads[p.name]!, 0.01)))));
      tf.dispose([value, ...Object.values(grads)]);
    };
    step();
    const after1 = tf.memory().numTensors;
    for (let i = 0; i < 3; i++) step();
    assert.equal(tf.memory().numTensors, after1);
    tf.dispose([ids, labels]);
    model.dispose();
    assert.equal(tf.memory().numTensors, before);
  });
});
