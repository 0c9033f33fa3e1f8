/**
 * The train benchmark's peer: the same reference step in transformers + peft on PyTorch (CPU, fp32), run by
 * interop/py/bench_peer.py in the pinned interop environment (`bash interop/setup.sh`), 1 and 2 threads.
 * When that environment is missing the peer is not run and the reason says how to build it: the benchmark
 * measures, it does not fail.
 */
import { loadavg } from 'node:os';
import type { LlamaConfig } from '../src/model-spec/config.js';
import { llamaConfigToJson } from '../src/model-spec/config.js';
import { interopPython, runPython } from '../test/interop/env.js';

export const PEER_THREADS = [1, 2];

export interface PeerRow {
  threads: number;
  median_step_s: number;
  tokens_per_s: number;
  /** Process CPU time (all threads) per step, warm-up included: the same measure as ftc's CPU s/step. */
  cpu_s_per_step: number;
  steps_timed: number;
}

export type PeerResult =
  | { ran: true; rows: PeerRow[]; versions: Record<string, string>; attn_implementation: string; trainable_params: number; load_average_at_start: number[]; load_average_at_end: number[] }
  | { ran: false; reason: string };

export interface PeerStep {
  config: LlamaConfig;
  batch: number;
  seq: number;
  lora: { r: number; alpha: number; targetModules: string[]; dropout: number };
  optim: { lr: number; weightDecay: number; beta1: number; beta2: number; eps: number; maxGradNorm: number };
  warmup: number;
  steps: number;
  seed: number;
}

export function runPeer(s: PeerStep): PeerResult {
  const env = interopPython();
  if (!('python' in env)) return { ran: false, reason: env.reason }; // the reason names `bash interop/setup.sh`
  const load = loadavg();
  try {
    const out = runPython<Omit<Extract<PeerResult, { ran: true }>, 'ran' | 'load_average_at_start' | 'load_average_at_end'>>(env.python, 'bench_peer.py', {
      config: llamaConfigToJson(s.config), batch: s.batch, seq: s.seq,
      lora: { r: s.lora.r, alpha: s.lora.alpha, target_modules: s.lora.targetModules, dropout: s.lora.dropout },
      optim: { lr: s.optim.lr, weight_decay: s.optim.weightDecay, beta1: s.optim.beta1, beta2: s.optim.beta2, eps: s.optim.eps, max_grad_norm: s.optim.maxGradNorm },
      threads: PEER_THREADS, warmup: s.warmup, steps: s.steps, seed: s.seed,
      // torch.set_num_threads picks each count; the OpenMP pool must be allowed to hold the largest.
    }, { env: { OMP_NUM_THREADS: String(Math.max(...PEER_THREADS)) }, timeoutMs: 900_000 });
    return { ran: true, ...out, load_average_at_start: load.map((x) => Math.round(x * 100) / 100), load_average_at_end: loadavg().map((x) => Math.round(x * 100) / 100) };
  } catch (e) {
    return { ran: false, reason: `bench_peer.py failed: ${(e as Error).message.split('\n').slice(0, 6).join(' ')}` };
  }
}
