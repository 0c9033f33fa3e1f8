/**
 * The fused inference kernels of kernels/decode.ts (RMSNorm, SwiGLU, rotary embedding, causal attention over a
 * KV cache) against float64 references written from the definitions, on odd sizes (vector bodies and scalar
 * tails, head dims not a multiple of 8, grouped-query heads, a cache longer than the new positions). And the
 * cached model path that uses them: step()'s logits equal forward()'s (the tfjs op chains) at the last position.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '../../../src/runtime/tf.js';
import '@tensorflow/tfjs-backend-wasm';
import { installWasmKernels, uninstallWasmKernels } from '../../../src/runtime/kernels/index.js';
import { appendPositions, cachedAttention, decodeKernelsAvailable, fusedRmsNorm, fusedRope, fusedSwiGLU } from '../../../src/runtime/kernels/decode.js';
import { createCausalLM } from '../../../src/runtime/model/causal-lm.js';
import type { LayerCache } from '../../../src/runtime/model/llama.js';
import { randomWeights, tinyConfig } from '../model/fixtures.js';
import { seeded } from './reference.js';

function assertClose(got: Float32Array, want: Float64Array, tol: number, what: string): void {
  assert.equal(got.length, want.length, `${what}: length`);
  for (let i = 0; i < got.length; i++) {
    const bound = tol * Math.max(1, Math.abs(want[i]!));
    if (!(Math.abs(got[i]! - want[i]!) <= bound)) assert.fail(`${what}: element ${i} is ${got[i]}, expected ${want[i]} (±${bound})`);
  }
}

const data = (t: tf.Tensor): Float32Array => t.dataSync() as Float32Array;

describe('fused decode kernels (wasm)', () => {
  before(async () => {
    await tf.setBackend('wasm');
    await tf.ready();
    assert.deepEqual(installWasmKernels(), { installed: true });
    assert.equal(decodeKernelsAvailable(), true);
  });
  after(() => uninstallWasmKernels());

  for (const [rows, E] of [[1, 1], [1, 7], [3, 64], [2, 130], [5, 896]]) {
    it(`RMSNorm rows=${rows} E=${E}`, () => {
      const x = seeded([rows, E], E + rows).data.map((v, i) => v * (1 + (i % 5)));
      const w = seeded([E], 3 * E).data;
      const eps = 1e-6;
      const want = new Float64Array(rows * E);
      for (let r = 0; r < rows; r++) {
        let ss = 0;
        for (let i = 0; i < E; i++) ss += x[r * E + i]! ** 2;
        const scale = 1 / Math.sqrt(ss / E + eps);
        for (let i = 0; i < E; i++) want[r * E + i] = x[r * E + i]! * scale * w[i]!;
      }
      const got = tf.tidy(() => data(fusedRmsNorm(tf.tensor2d(x, [rows, E]), tf.tensor1d(w), eps)));
      assertClose(got, want, 1e-5, 'rmsNorm');
    });
  }

  for (const n of [1, 3, 4, 37, 4864]) {
    it(`SwiGLU on ${n} values, including large |gate| (exp's range ends)`, () => {
      const g = seeded([n], n).data.map((v, i) => (i % 7 === 0 ? v * 120 : v * 8));
      const u = seeded([n], n + 1).data;
      const want = Float64Array.from(g, (x, i) => (x / (1 + Math.exp(-x))) * u[i]!);
      const got = tf.tidy(() => data(fusedSwiGLU(tf.tensor1d(g), tf.tensor1d(u))));
      assertClose(got, want, 1e-5, 'swiglu');
    });
  }

  for (const [B, T, heads, D] of [[1, 1, 2, 8], [2, 3, 3, 6], [1, 5, 14, 64], [1, 2, 1, 2]]) {
    it(`rope B=${B} T=${T} heads=${heads} D=${D}`, () => {
      const x = seeded([B, T, heads, D], D + T).data;
      const cos = seeded([1, T, 1, D], 7).data;
      const sin = seeded([1, T, 1, D], 8).data;
      const half = D / 2;
      const want = new Float64Array(x.length);
      for (let r = 0; r < B * T; r++) {
        const t = r % T;
        for (let h = 0; h < heads; h++) {
          const base = (r * heads + h) * D;
          for (let i = 0; i < D; i++) {
            const partner = i < half ? i + half : i - half;
            want[base + i] = x[base + i]! * cos[t * D + i]! + x[base + partner]! * sin[t * D + i]!;
          }
        }
      }
      const got = tf.tidy(() => data(fusedRope(tf.tensor4d(x, [B, T, heads, D]), tf.tensor4d(cos, [1, T, 1, D]), tf.tensor4d(sin, [1, T, 1, D]))));
      assertClose(got, want, 1e-6, 'rope');
    });
  }

  // [B, T, S, H, KV, D]: one query over a cache (decoding), a prompt (T = S), a chunk after a cache, MHA and GQA.
  for (const [B, T, S, H, KV, D] of [[1, 1, 1, 2, 1, 4], [1, 1, 37, 14, 2, 64], [2, 5, 5, 4, 2, 6], [1, 3, 9, 4, 4, 13], [2, 1, 6, 8, 2, 16]]) {
    it(`attention B=${B} T=${T} S=${S} H=${H} KV=${KV} D=${D}`, () => {
      const q = seeded([B, T, H, D], 1 + D).data.map((v) => v * 3);
      const k = seeded([B, S, KV, D], 2 + S).data.map((v) => v * 3);
      const v = seeded([B, S, KV, D], 3 + H).data;
      const want = new Float64Array(B * T * H * D);
      for (let b = 0; b < B; b++) {
        for (let t = 0; t < T; t++) {
          for (let h = 0; h < H; h++) {
            const g = Math.floor(h / (H / KV));
            const seen = S - T + t + 1;
            const scores = Array.from({ length: seen }, (_, s) => {
              let dot = 0;
              for (let i = 0; i < D; i++) dot += q[((b * T + t) * H + h) * D + i]! * k[((b * S + s) * KV + g) * D + i]!;
              return dot / Math.sqrt(D);
            });
            const max = Math.max(...scores);
            const p = scores.map((x) => Math.exp(x - max));
            const z = p.reduce((a, c) => a + c, 0);
            for (let i = 0; i < D; i++) {
              let acc = 0;
              for (let s = 0; s < seen; s++) acc += (p[s]! / z) * v[((b * S + s) * KV + g) * D + i]!;
              want[((b * T + t) * H + h) * D + i] = acc;
            }
          }
        }
      }
      const got = tf.tidy(() => data(cachedAttention(tf.tensor4d(q, [B, T, H, D]), tf.tensor4d(k, [B, S, KV, D]), tf.tensor4d(v, [B, S, KV, D]))));
      assertClose(got, want, 2e-5, 'attention');
    });
  }

  for (const [B, S, T] of [[1, 5, 1], [2, 3, 4], [3, 1, 2]]) {
    it(`append B=${B} S=${S} T=${T}: the positions of next follow those of past, per batch row`, () => {
      const [KV, D] = [2, 3];
      const past = seeded([B, S, KV, D], S).data;
      const next = seeded([B, T, KV, D], T + 9).data;
      const row = KV * D;
      const want = new Float64Array(B * (S + T) * row);
      for (let b = 0; b < B; b++) {
        for (let s = 0; s < S + T; s++) {
          for (let j = 0; j < row; j++) want[(b * (S + T) + s) * row + j] = s < S ? past[(b * S + s) * row + j]! : next[(b * T + s - S) * row + j]!;
        }
      }
      const got = tf.tidy(() => {
        const y = appendPositions(tf.tensor4d(past, [B, S, KV, D]), tf.tensor4d(next, [B, T, KV, D]));
        assert.deepEqual(y.shape, [B, S + T, KV, D]);
        return data(y);
      });
      assertClose(got, want, 0, 'append');
    });
  }

  it('the cached model path (fused kernels) gives forward()\'s logits: a prompt, then one token at a time over the cache', () => {
    const config = tinyConfig({ hiddenSize: 24, numAttentionHeads: 4, numKeyValueHeads: 2, intermediateSize: 36, vocabSize: 37, attentionBias: true, architecture: 'Qwen2ForCausalLM', modelType: 'qwen2' });
    const lora = { r: 2, alpha: 4, targetModules: ['q_proj', 'v_proj', 'down_proj'], dropout: 0, bias: 'none' as const, useRslora: false, seed: 5 };
    const model = createCausalLM(config, randomWeights(config, 3), lora);
    try {
      // B starts at zero; nonzero adapters make the LoRA branch count in both paths.
      tf.tidy(() => { for (const [k, v] of model.adapterParams()) if (k.endsWith('lora_B.weight')) v.assign(tf.randomNormal(v.shape, 0, 0.3, 'float32', 1)); });
      const ids = [3, 7, 1, 19, 22, 5, 30, 2];
      const full = tf.tidy(() => model.forward(tf.tensor2d([ids], undefined, 'int32')).dataSync() as Float32Array); // [1, 8, V]
      const V = config.vocabSize;
      const lastOf = (t: number) => Float64Array.from(full.subarray(t * V, (t + 1) * V));
      const run = (tokens: number[], past?: LayerCache[]) => {
        const t = tf.tensor2d([tokens], undefined, 'int32');
        try {
          return model.step(t, past);
        } finally {
          t.dispose();
        }
      };
      const before = tf.memory().numTensors;
      let step = run(ids.slice(0, 5));
      assertClose(data(step.logits), lastOf(4), 1e-4, 'prompt of 5');
      for (let t = 5; t < ids.length; t++) {
        const next = run([ids[t]!], step.cache);
        tf.dispose([step.logits, ...step.cache.flatMap((c) => [c.k, c.v])]);
        step = next;
        assertClose(data(step.logits), lastOf(t), 1e-4, `token ${t} over the cache`);
      }
      tf.dispose([step.logits, ...step.cache.flatMap((c) => [c.k, c.v])]);
      assert.equal(tf.memory().numTensors, before, 'no tensor outlives the steps');
    } finally {
      model.dispose();
    }
  });
});
