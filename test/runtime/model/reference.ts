/**
 * A deliberately naive Llama forward pass, written from the equations with plain arrays and loops
 * (float64), sharing no code with src/runtime/model. It is slow on purpose: every sum is spelled out.
 */
import type { HostTensor, WeightMap } from '../../../src/runtime/model/api.js';
import type { LlamaConfig } from '../../../src/model-spec/config.js';

type Vec = number[];
type Mat = number[][];

/** LoRA matrices in PEFT's orientation per module path (`model.layers.0.self_attn.q_proj`). */
export interface RefLora {
  scaling: number;
  modules: Map<string, { A: HostTensor; B: HostTensor }>;
}

function get(w: WeightMap, name: string): HostTensor {
  const t = w.get(name);
  if (!t) throw new Error(`reference: missing ${name}`);
  return t;
}

/** y[o] = Σ_i W[o][i] x[i] + b[o] (+ scaling Σ_k B[o][k] Σ_i A[k][i] x[i]). */
function linear(w: WeightMap, path: string, x: Vec, lora?: RefLora): Vec {
  const W = get(w, `${path}.weight`);
  const [out, inn] = W.shape;
  const bias = w.get(`${path}.bias`);
  const y: Vec = [];
  for (let o = 0; o < out; o++) {
    let s = bias ? bias.data[o] : 0;
    for (let i = 0; i < inn; i++) s += W.data[o * inn + i] * x[i];
    y.push(s);
  }
  const ad = lora?.modules.get(path);
  if (ad && lora) {
    const r = ad.A.shape[0];
    const ax: Vec = [];
    for (let k = 0; k < r; k++) {
      let s = 0;
      for (let i = 0; i < inn; i++) s += ad.A.data[k * inn + i] * x[i];
      ax.push(s);
    }
    for (let o = 0; o < out; o++) {
      let s = 0;
      for (let k = 0; k < r; k++) s += ad.B.data[o * r + k] * ax[k];
      y[o] += lora.scaling * s;
    }
  }
  return y;
}

function rmsnorm(x: Vec, weight: HostTensor, eps: number): Vec {
  let ms = 0;
  for (const v of x) ms += v * v;
  ms /= x.length;
  const inv = 1 / Math.sqrt(ms + eps);
  return x.map((v, i) => v * inv * weight.data[i]);
}

/** Rotary embedding of one head vector at position p, HF layout: pairs (i, i + D/2). */
function rope(x: Vec, p: number, c: LlamaConfig): Vec {
  const d = x.length;
  const half = d / 2;
  const pos = p / (c.ropeScaling ? c.ropeScaling.factor : 1);
  const out = x.slice();
  for (let i = 0; i < half; i++) {
    const theta = pos * Math.pow(c.ropeTheta, -(2 * i) / d);
    const cos = Math.cos(theta);
    const sin = Math.sin(theta);
    out[i] = x[i] * cos - x[i + half] * sin;
    out[i + half] = x[i + half] * cos + x[i] * sin;
  }
  return out;
}

/** logits[b][t][v] for ids[b][t]. */
export function referenceLogits(c: LlamaConfig, w: WeightMap, ids: number[][], lora?: RefLora): number[][][] {
  return ids.map((seq) => referenceSequence(c, w, seq, lora));
}

function referenceSequence(c: LlamaConfig, w: WeightMap, ids: number[], lora?: RefLora): Mat {
  const E = c.hiddenSize;
  const H = c.numAttentionHeads;
  const KV = c.numKeyValueHeads;
  const D = c.headDim;
  const emb = get(w, 'model.embed_tokens.weight');
  let xs: Mat = ids.map((id) => Array.from(emb.data.subarray(id * E, (id + 1) * E)));
  for (let l = 0; l < c.numHiddenLayers; l++) {
    const p = `model.layers.${l}`;
    const hs = xs.map((x) => rmsnorm(x, get(w, `${p}.input_layernorm.weight`), c.rmsNormEps));
    const head = (vec: Vec, h: number): Vec => vec.slice(h * D, (h + 1) * D);
    const qs = hs.map((h) => linear(w, `${p}.self_attn.q_proj`, h, lora));
    const ks = hs.map((h) => linear(w, `${p}.self_attn.k_proj`, h, lora));
    const vs = hs.map((h) => linear(w, `${p}.self_attn.v_proj`, h, lora));
    const attnOut: Mat = [];
    for (let t = 0; t < ids.length; t++) {
      const concat: Vec = [];
      for (let h = 0; h < H; h++) {
        const g = Math.floor(h / (H / KV)); // the key/value head this query head shares
        const q = rope(head(qs[t], h), t, c);
        const scores: Vec = [];
        for (let s = 0; s <= t; s++) {
          const k = rope(head(ks[s], g), s, c);
          let dot = 0;
          for (let i = 0; i < D; i++) dot += q[i] * k[i];
          scores.push(dot / Math.sqrt(D));
        }
        const m = Math.max(...scores);
        const e = scores.map((s) => Math.exp(s - m));
        const z = e.reduce((a, b) => a + b, 0);
        const o = new Array<number>(D).fill(0);
        for (let s = 0; s <= t; s++) {
          const v = head(vs[s], g);
          for (let i = 0; i < D; i++) o[i] += (e[s] / z) * v[i];
        }
        concat.push(...o);
      }
      attnOut.push(linear(w, `${p}.self_attn.o_proj`, concat, lora));
    }
    xs = xs.map((x, t) => x.map((v, i) => v + attnOut[t][i]));
    xs = xs.map((x) => {
      const h = rmsnorm(x, get(w, `${p}.post_attention_layernorm.weight`), c.rmsNormEps);
      const g = linear(w, `${p}.mlp.gate_proj`, h, lora);
      const u = linear(w, `${p}.mlp.up_proj`, h, lora);
      const act = g.map((gv, i) => (gv / (1 + Math.exp(-gv))) * u[i]);
      const down = linear(w, `${p}.mlp.down_proj`, act, lora);
      return x.map((v, i) => v + down[i]);
    });
  }
  const head = c.tieWordEmbeddings ? emb : get(w, 'lm_head.weight');
  return xs.map((x) => {
    const h = rmsnorm(x, get(w, 'model.norm.weight'), c.rmsNormEps);
    const logits: Vec = [];
    for (let v = 0; v < c.vocabSize; v++) {
      let s = 0;
      for (let i = 0; i < E; i++) s += head.data[v * E + i] * h[i];
      logits.push(s);
    }
    return logits;
  });
}
