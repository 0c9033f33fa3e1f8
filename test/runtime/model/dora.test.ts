/**
 * DoRA (PEFT use_dora) against an independent host reference: plain float64 loops over
 *     y = b + (m / ‖W + s·B·A‖) ⊙ (W x + s·B A x)            (eval / no dropout)
 *     y = W x + b + (m/‖·‖ − 1) ⊙ W x' + (m/‖·‖) ⊙ s·B A x'  (training with dropout, x' = dropout(x))
 * and its gradient, with the norm a constant (PEFT detaches it), against finite differences of that reference.
 */
import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import type { LoraSettings } from '../../../src/runtime/model/api.js';
import { initBackend } from '../../../src/runtime/backend.js';
import { createCausalLM } from '../../../src/runtime/model/causal-lm.js';
import { dropout, LoraLinear } from '../../../src/runtime/model/lora.js';
import { FrozenLinear } from '../../../src/runtime/model/matmul.js';
import { deriveSeed } from '../../../src/runtime/model/prng.js';
import * as tf from '../../../src/runtime/tf.js';
import { lcg, randomTensor, randomWeights, tinyConfig } from './fixtures.js';

const IN = 6, OUT = 5, R = 2, N = 4, ALPHA = 3;
const S = ALPHA / R;

interface Params { W: Float64Array; b: Float64Array; A: Float64Array; B: Float64Array; m: Float64Array }

/** ‖W + s·B·A‖ per output row, from loops. */
function rowNorms(p: Params): Float64Array {
  const n = new Float64Array(OUT);
  for (let o = 0; o < OUT; o++) {
    let sq = 0;
    for (let i = 0; i < IN; i++) {
      let ba = 0;
      for (let k = 0; k < R; k++) ba += p.B[o * R + k]! * p.A[k * IN + i]!;
      sq += (p.W[o * IN + i]! + S * ba) ** 2;
    }
    n[o] = Math.sqrt(sq);
  }
  return n;
}

/** y [N, OUT] by loops; `norms` fixed (the detached norm) or recomputed from p; `mask` is dropout's scaled mask. */
function reference(p: Params, x: Float64Array, norms = rowNorms(p), mask?: Float64Array): Float64Array {
  const y = new Float64Array(N * OUT);
  const xd = mask ? x.map((v, i) => v * mask[i]!) : x;
  for (let r = 0; r < N; r++) {
    for (let o = 0; o < OUT; o++) {
      const scale = p.m[o]! / norms[o]!;
      let wx = 0, wxd = 0, bax = 0;
      for (let i = 0; i < IN; i++) {
        wx += p.W[o * IN + i]! * x[r * IN + i]!;
        wxd += p.W[o * IN + i]! * xd[r * IN + i]!;
      }
      for (let k = 0; k < R; k++) {
        let ax = 0;
        for (let i = 0; i < IN; i++) ax += p.A[k * IN + i]! * xd[r * IN + i]!;
        bax += p.B[o * R + k]! * ax;
      }
      y[r * OUT + o] = mask ? wx + p.b[o]! + (scale - 1) * wxd + scale * S * bax : p.b[o]! + scale * (wx + S * bax);
    }
  }
  return y;
}

const settings: LoraSettings = { r: R, alpha: ALPHA, targetModules: ['q_proj'], dropout: 0, bias: 'none', useRslora: false, useDora: true, seed: 1 };
const f64 = (t: { data: Float32Array }) => Float64Array.from(t.data);

/** A DoRA LoraLinear with random W, b, A, B and m, and the same values on the host (PEFT orientation). */
function makeLayer(p = 0): { layer: LoraLinear; host: Params } {
  const rnd = lcg(7);
  const W = randomTensor([OUT, IN], rnd, 0.5);
  const b = randomTensor([OUT], rnd, 0.3);
  const A = randomTensor([R, IN], rnd, 0.4);
  const B = randomTensor([OUT, R], rnd, 0.4);
  const base = FrozenLinear.fromWeight(tf.tensor2d(W.data, [OUT, IN]), tf.tensor1d(b.data));
  const layer = new LoraLinear(base, 'base_model.model.model.layers.0.self_attn.q_proj', { ...settings, dropout: p }, A.data, 3);
  layer.bT.assign(tf.tensor2d(B.data, [OUT, R]).transpose());
  // The magnitude starts at ‖W‖ (B was zero); move it so m / ‖·‖ ≠ 1 shows in the output.
  const m = new Float32Array(OUT).map((_, o) => 1 + 0.3 * o);
  layer.magnitude!.assign(tf.tensor1d(m));
  return { layer, host: { W: f64(W), b: f64(b), A: f64(A), B: f64(B), m: Float64Array.from(m) } };
}

function assertClose(actual: ArrayLike<number>, expected: ArrayLike<number>, tol: number, what: string): void {
  assert.equal(actual.length, expected.length, what);
  for (let i = 0; i < actual.length; i++) {
    const d = Math.abs(actual[i]! - expected[i]!);
    assert.ok(d <= tol * Math.max(1, Math.abs(expected[i]!)), `${what}[${i}]: ${actual[i]} vs ${expected[i]}`);
  }
}

describe('DoRA', () => {
  before(async () => {
    await initBackend('cpu');
  });

  test('the magnitude starts at the row norms of W and the model starts equal to the base', () => {
    const config = tinyConfig();
    const weights = randomWeights(config);
    const model = createCausalLM(config, weights, { ...settings, targetModules: ['q_proj', 'down_proj'] });
    const plain = createCausalLM(config, weights);
    const adapter = model.exportAdapter();
    for (const [path, name] of [['self_attn.q_proj', 'q_proj'], ['mlp.down_proj', 'down_proj']] as const) {
      const W = weights.get(`model.layers.1.${path}.weight`)!;
      const [out, inF] = W.shape as [number, number];
      const norms = Array.from({ length: out }, (_, o) => Math.hypot(...W.data.subarray(o * inF, (o + 1) * inF)));
      assertClose(adapter.get(`base_model.model.model.layers.1.${path}.lora_magnitude_vector`)!.data, norms, 1e-6, name);
    }
    assert.equal([...model.adapterParams().keys()].filter((k) => k.endsWith('lora_magnitude_vector')).length, 4);
    const ids = tf.tensor2d([[3, 7, 1, 19, 22]], undefined, 'int32');
    const [a, b] = tf.tidy(() => [model.forward(ids).dataSync(), plain.forward(ids).dataSync()]);
    assertClose(a!, b!, 1e-5, 'logits');
    tf.dispose(ids);
    model.dispose();
    plain.dispose();
  });

  test('forward equals the host loops, in eval and under training dropout', () => {
    for (const p of [0, 0.4]) {
      const { layer, host } = makeLayer(p);
      const x = randomTensor([N, IN], lcg(3), 1);
      const seeds = [5, 6];
      const y = tf.tidy(() => layer.apply(tf.tensor2d(x.data, [N, IN]), true, seeds).dataSync());
      // The layer's mask, drawn as it draws it (seed per example, then per module) on a tensor of ones.
      const mask = p > 0 ? Float64Array.from(tf.tidy(() => dropout(tf.ones([N, IN]) as tf.Tensor2D, p, seeds.map((s) => deriveSeed(s, 3))).dataSync() as Float32Array)) : undefined;
      if (mask) assert.ok(mask.some((v) => v === 0) && mask.some((v) => v > 1), 'dropout dropped something');
      assertClose(y, reference(host, f64(x), undefined, mask), 2e-5, `y (dropout ${p})`);
      const evalY = tf.tidy(() => layer.apply(tf.tensor2d(x.data, [N, IN]), false, seeds).dataSync());
      assertClose(evalY, reference(host, f64(x)), 2e-5, 'y (eval)');
      layer.base.dispose();
      layer.dispose();
    }
  });

  test('gradients of A, B and m equal finite differences of the reference with the norm held constant, as PEFT detaches it', () => {
    const { layer, host } = makeLayer();
    const x = randomTensor([N, IN], lcg(4), 1);
    const up = randomTensor([N, OUT], lcg(9), 1); // dL/dy
    const { grads } = tf.variableGrads(() => tf.tidy(() =>
      tf.sum(tf.mul(layer.apply(tf.tensor2d(x.data, [N, IN]), false, [0]), tf.tensor2d(up.data, [N, OUT]))) as tf.Scalar),
    [layer.aT, layer.bT, layer.magnitude!]);
    const got = {
      A: Float64Array.from(tf.transpose(grads[layer.aT.name]!).dataSync()), // [r, in]
      B: Float64Array.from(tf.transpose(grads[layer.bT.name]!).dataSync()), // [out, r]
      m: Float64Array.from(grads[layer.magnitude!.name]!.dataSync()),
    };
    tf.dispose(Object.values(grads));
    const loss = (p: Params, norms?: Float64Array) => reference(p, f64(x), norms).reduce((s, v, i) => s + v * up.data[i]!, 0);
    const frozen = rowNorms(host);
    const h = 1e-6;
    const fd = (key: 'A' | 'B' | 'm', norms?: (p: Params) => Float64Array) => host[key].map((_, i) => {
      const plus = { ...host, [key]: host[key].slice() };
      const minus = { ...host, [key]: host[key].slice() };
      plus[key][i] += h;
      minus[key][i] -= h;
      return (loss(plus, norms?.(plus)) - loss(minus, norms?.(minus))) / (2 * h);
    });
    for (const key of ['A', 'B', 'm'] as const) assertClose(got[key], fd(key, () => frozen), 1e-4, `dL/d${key}`);
    // Differentiating through the norm gives another gradient for B: the test tells the two apart.
    const through = fd('B', rowNorms);
    assert.ok(got.B.some((g, i) => Math.abs(g - through[i]!) > 1e-2), 'the detached gradient differs from the full one');
    layer.base.dispose();
    layer.dispose();
  });

  test('a DoRA + modules_to_save training step leaves no tensors behind', () => {
    const config = tinyConfig();
    const model = createCausalLM(config, randomWeights(config), { ...settings, dropout: 0.2, modulesToSave: ['lm_head'] });
    const ids = tf.tensor2d([[3, 7, 1, 19, 22]], undefined, 'int32');
    const vars = [...model.adapterParams().values()];
    const step = (seed: number) => {
      const { value, grads } = tf.variableGrads(() => model.loss(ids, ids, { training: true, dropoutSeed: seed }), vars);
      tf.dispose([value, ...Object.values(grads)]);
    };
    step(1);
    const after1 = tf.memory().numTensors;
    for (let i = 2; i < 5; i++) step(i);
    assert.equal(tf.memory().numTensors, after1);
    tf.dispose(ids);
    model.dispose();
  });

  test('modules_to_save: embed_tokens and lm_head are Variables under PEFT\'s saved names, and their gradients equal finite differences of the loss', () => {
    const config = tinyConfig();
    const weights = randomWeights(config);
    const lora = { ...settings, useDora: false, modulesToSave: ['embed_tokens', 'lm_head'] };
    const model = createCausalLM(config, weights, lora);
    const params = model.adapterParams();
    const embed = params.get('base_model.model.model.embed_tokens.weight')!;
    const head = params.get('base_model.model.lm_head.weight')!;
    assert.ok(embed && head, 'both are trained');
    const ids = tf.tensor2d([[3, 7, 1, 19, 22]], undefined, 'int32');
    const labels = tf.tensor2d([[-100, 7, 1, 19, 22]], undefined, 'int32');
    const { grads } = tf.variableGrads(() => model.loss(ids, labels), [embed, head]);
    const gE = grads[embed.name]!.dataSync(), gH = grads[head.name]!.dataSync();
    tf.dispose(Object.values(grads));
    // Central differences on a fresh float32 model per probe: a few entries of rows the batch uses.
    const lossWith = (name: string, i: number, d: number): number => {
      const w = new Map(weights);
      const t = w.get(name)!;
      const data = Float32Array.from(t.data);
      data[i] = data[i]! + d;
      w.set(name, { shape: t.shape, data });
      const m = createCausalLM(config, w);
      const l = tf.tidy(() => m.loss(ids, labels).dataSync()[0]!);
      m.dispose();
      return l;
    };
    const E = config.hiddenSize;
    for (const [name, g, i] of [['model.embed_tokens.weight', gE, 7 * E + 2], ['model.embed_tokens.weight', gE, 19 * E + 5], ['lm_head.weight', gH, 22 * E + 1], ['lm_head.weight', gH, 4 * E + 3]] as const) {
      const h = 1e-2;
      const fd = (lossWith(name, i, h) - lossWith(name, i, -h)) / (2 * h);
      assert.ok(Math.abs(g[i]! - fd) <= 2e-3 + 2e-2 * Math.abs(fd), `${name}[${i}]: ${g[i]} vs ${fd}`);
      assert.ok(Math.abs(fd) > 1e-4, `${name}[${i}] has a gradient to compare`);
    }
    tf.dispose([ids, labels]);
    model.dispose();
    const tied = tinyConfig({ tieWordEmbeddings: true });
    const tiedWeights = randomWeights(tied);
    tiedWeights.delete('lm_head.weight');
    assert.throws(() => createCausalLM(tied, tiedWeights, lora), /E_LORA_MODULES_TO_SAVE|tied to embed_tokens/);
  });
});
