import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { initBackend } from '../../../src/runtime/backend.js';
import { createCausalLM } from '../../../src/runtime/model/causal-lm.js';
import { headLoss } from '../../../src/runtime/model/loss.js';
import { FrozenLinear } from '../../../src/runtime/model/matmul.js';
import * as tf from '../../../src/runtime/tf.js';
import { lcg, randomTensor, randomWeights, tinyConfig } from './fixtures.js';

/**
 * The loss as ftc computed it before chunking, by autodiff: logits [N, V] → logSoftmax → oneHot pick →
 * weighted mean over labels ≠ -100 (shifted by one). The gradients of the chunked loss must equal its.
 */
function oneHotLoss(logits: tf.Tensor2D, labels: number[][]): tf.Scalar {
  const v = logits.shape[1];
  const targets = labels.flatMap((row) => [...row.slice(1), -100]);
  const counted = targets.map((t): number => (t === -100 ? 0 : 1));
  const n = counted.reduce((a, b) => a + b, 0);
  const picked = tf.sum(tf.mul(tf.logSoftmax(logits), tf.oneHot(targets.map((t) => Math.max(t, 0)), v)), -1);
  return tf.div(tf.neg(tf.sum(tf.mul(picked, tf.tensor1d(counted)))), Math.max(n, 1)) as tf.Scalar;
}

/** −mean log p(target) in float64 on the host, from the definition. */
function hostLoss(h: Float32Array, w: Float32Array, n: number, e: number, v: number, labels: number[][]): number {
  const targets = labels.flatMap((row) => [...row.slice(1), -100]);
  let sum = 0;
  let count = 0;
  for (let i = 0; i < n; i++) {
    if (targets[i] === -100) continue;
    const logits = Array.from({ length: v }, (_, o) => {
      let s = 0;
      for (let k = 0; k < e; k++) s += h[i * e + k]! * w[o * e + k]!;
      return s;
    });
    const max = Math.max(...logits);
    const lse = max + Math.log(logits.reduce((s, x) => s + Math.exp(x - max), 0));
    sum += lse - logits[targets[i]!]!;
    count++;
  }
  return sum / Math.max(count, 1);
}

const close = (a: ArrayLike<number>, b: ArrayLike<number>, tol: number, what: string) => {
  assert.equal(a.length, b.length);
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i]! - b[i]!));
  assert.ok(worst <= tol, `${what}: max |diff| ${worst}`);
};

describe('chunked lm-head cross-entropy', () => {
  before(async () => {
    await initBackend('cpu');
  });

  const [B, T, E, V] = [3, 5, 8, 37];
  const LABELS = [[-100, 4, 36, 0, 9], [-100, -100, 2, 2, -100], [1, 30, 31, 32, 33]];
  const rnd = lcg(7);
  const hHost = randomTensor([B * T, E], rnd, 1.5);
  const wHost = randomTensor([V, E], rnd, 1);

  for (const opts of [{}, { chunkRows: 4, keepSoftmax: true }, { chunkRows: 4, keepSoftmax: false }, { chunkRows: 7, keepSoftmax: false }]) {
    test(`equals the oneHot loss and its gradient within 1e-4 (${JSON.stringify(opts)})`, () => {
      const before = tf.memory().numTensors;
      const h = tf.tensor2d(hHost.data, [B * T, E]);
      const w = tf.tensor2d(wHost.data, [V, E]);
      const head = FrozenLinear.fromWeight(w);
      const labels = tf.tensor2d(LABELS, [B, T], 'int32');
      const ours = tf.valueAndGrad((x: tf.Tensor) => headLoss(x as tf.Tensor2D, head, labels, opts))(h);
      const ref = tf.valueAndGrad((x: tf.Tensor) => oneHotLoss(tf.matMul(x as tf.Tensor2D, w, false, true), LABELS))(h);
      const expected = hostLoss(hHost.data, wHost.data, B * T, E, V, LABELS);
      assert.ok(Math.abs(ours.value.dataSync()[0]! - expected) < 1e-4 * Math.max(1, expected), `${ours.value.dataSync()[0]} vs ${expected}`);
      close(ours.grad.dataSync(), ref.grad.dataSync(), 1e-4, 'd hidden');
      assert.ok(ref.grad.dataSync().some((x) => Math.abs(x) > 1e-3), 'the gradient is not trivially zero');
      tf.dispose([h, w, labels, ours.value, ours.grad, ref.value, ref.grad]);
      assert.equal(tf.memory().numTensors, before, 'no tensor outlives the call');
    });
  }

  test('what is live at once is about one chunk of [N, V], not the whole: the chunks\' temporaries go before the next', async () => {
    // [N, V] float32 = 1 MiB here, cut into 16 chunks of 64 KiB; the softmax recomputed, not kept.
    const [n, e, v] = [256, 16, 1024];
    const r = lcg(3);
    const h = tf.tensor2d(randomTensor([n, e], r, 1).data, [n, e]);
    const head = FrozenLinear.fromWeight(tf.tensor2d(randomTensor([v, e], r, 1).data, [v, e]));
    const labels = tf.tensor2d(Array.from({ length: 4 }, (_, b) => Array.from({ length: n / 4 }, (_, t) => (b * 31 + t * 7) % v)), [4, n / 4], 'int32');
    const start = tf.memory().numBytes;
    let grad: tf.Tensor | undefined;
    let value: tf.Tensor | undefined;
    const info = await tf.profile(() => {
      ({ value, grad } = tf.valueAndGrad((x: tf.Tensor) => headLoss(x as tf.Tensor2D, head, labels, { chunkRows: 16, keepSoftmax: false }))(h));
    });
    const full = n * v * 4;
    const peak = info.peakBytes - start;
    assert.ok(peak < full / 2, `peak ${peak} bytes above the inputs, against ${full} for one whole [N, V]`);
    tf.dispose([h, labels, value!, grad!]);
    head.dispose();
  });

  test('a batch with no counted label has loss 0 and zero gradient', () => {
    const h = tf.tensor2d(hHost.data, [B * T, E]);
    const head = FrozenLinear.fromWeight(tf.tensor2d(wHost.data, [V, E]));
    const labels = tf.fill([B, T], -100, 'int32') as tf.Tensor2D;
    const { value, grad } = tf.valueAndGrad((x: tf.Tensor) => headLoss(x as tf.Tensor2D, head, labels, { chunkRows: 4 }))(h);
    assert.equal(value.dataSync()[0], 0);
    assert.ok(grad.dataSync().every((x) => x === 0));
    tf.dispose([h, labels, value, grad]);
    head.dispose();
  });

  test("the model's adapter gradients equal those of the oneHot loss over its logits within 1e-4", () => {
    const config = tinyConfig({ vocabSize: 41, tieWordEmbeddings: true });
    const weights = randomWeights(config, 3);
    weights.delete('lm_head.weight');
    const lora = { r: 4, alpha: 8, targetModules: ['q_proj', 'v_proj', 'down_proj'], dropout: 0, bias: 'none' as const, useRslora: false, seed: 5 };
    const model = createCausalLM(config, weights, lora);
    // A non-zero B, so that A's gradient is not zero either.
    const r2 = lcg(9);
    model.importAdapter(new Map([...model.exportAdapter()].map(([k, t]) => [k, randomTensor(t.shape, r2, 0.3)])));
    const ids = tf.tensor2d([[3, 7, 1, 19, 22, 40], [0, 11, 11, 4, 9, 2]], [2, 6], 'int32');
    const labelRows = [[-100, -100, 1, 19, 22, 40], [-100, 11, 11, -100, 9, 2]];
    const labels = tf.tensor2d(labelRows, [2, 6], 'int32');
    const vars = [...model.adapterParams().values()];
    const ours = tf.variableGrads(() => model.loss(ids, labels), vars);
    const ref = tf.variableGrads(() => oneHotLoss(tf.reshape(model.forward(ids), [12, config.vocabSize]) as tf.Tensor2D, labelRows), vars);
    assert.ok(Math.abs(ours.value.dataSync()[0]! - ref.value.dataSync()[0]!) < 1e-4);
    for (const v of vars) close(ours.grads[v.name]!.dataSync(), ref.grads[v.name]!.dataSync(), 1e-4, v.name);
    tf.dispose([ids, labels, ours.value, ref.value, ...Object.values(ours.grads), ...Object.values(ref.grads)]);
    model.dispose();
  });
});
