import { withMemoryStage } from '../kernels/heap.js';
import * as tf from '../tf.js';
import type { LlamaCausalLM } from './causal-lm.js';
import type { LayerCache } from './llama.js';
import { Prng } from './prng.js';

export interface GenerateOptions {
  maxNewTokens: number;
  /** 0 (the default) is greedy argmax; above 0, logits are divided by it before sampling. */
  temperature?: number;
  /** Nucleus sampling: keep the most probable tokens whose mass reaches top_p (1: keep all). */
  topP?: number;
  seed?: number;
  /** Stop after emitting any of these (the config's eos ids by default). */
  eosTokenIds?: number[];
  /** Called with each new token as soon as it is chosen (streaming output; the benchmark's clock). */
  onToken?: (token: number) => void;
}

/**
 * Autoregressive decoding with a KV cache: one forward pass over the prompt, then one position per new
 * token. Returns the new tokens (an end-of-sequence token, if reached, is the last).
 */
export function generate(model: LlamaCausalLM, prompt: number[], opts: GenerateOptions): number[] {
  if (prompt.length === 0) throw new Error('generate needs at least one prompt token');
  const eos = new Set(opts.eosTokenIds ?? model.config.eosTokenIds);
  const rng = new Prng(opts.seed ?? 0);
  const out: number[] = [];
  let cache: LayerCache[] | undefined;
  let input = prompt;
  try {
    while (out.length < opts.maxNewTokens) {
      const ids = tf.tensor2d([input], [1, input.length], 'int32');
      const step = withMemoryStage('generating a token', () => model.step(ids, cache));
      ids.dispose();
      releaseCache(cache);
      cache = step.cache;
      // Host sync, deliberately: the next token decides the next step's input.
      const logits = step.logits.dataSync() as Float32Array; // [1, V]: the last position's
      step.logits.dispose();
      const token = pickToken(logits, opts.temperature ?? 0, opts.topP ?? 1, rng);
      out.push(token);
      opts.onToken?.(token);
      if (eos.has(token)) break;
      input = [token];
    }
  } finally {
    releaseCache(cache);
  }
  return out;
}

function releaseCache(cache: LayerCache[] | undefined): void {
  if (cache) for (const c of cache) tf.dispose([c.k, c.v]);
}

/** Greedy argmax at temperature 0; otherwise softmax(logits / T), restricted to the top-p nucleus. */
export function pickToken(logits: Float32Array, temperature: number, topP: number, rng: Prng): number {
  if (temperature <= 0) {
    let best = 0;
    for (let i = 1; i < logits.length; i++) if (logits[i] > logits[best]) best = i;
    return best;
  }
  let max = -Infinity;
  for (const v of logits) max = Math.max(max, v);
  const probs = Array.from(logits, (v, i) => ({ i, p: Math.exp((v - max) / temperature) }));
  const z = probs.reduce((s, x) => s + x.p, 0);
  probs.sort((a, b) => b.p - a.p || a.i - b.i);
  // Smallest prefix whose probability reaches top_p (always at least the most probable token).
  let kept = 0;
  let mass = 0;
  while (kept < probs.length && (kept === 0 || mass < topP * z)) mass += probs[kept++].p;
  let u = rng.next() * mass;
  for (let k = 0; k < kept; k++) {
    u -= probs[k].p;
    if (u < 0) return probs[k].i;
  }
  return probs[kept - 1].i;
}
