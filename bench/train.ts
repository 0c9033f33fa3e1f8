/**
 * `npm run bench -- train [--json] [--workers N] [--steps N] [--seq N] [--config NAME] [--backend wasm|cpu|auto]
 *   [--attention auto|batched|per-head|compare] [--weights f32|bf16|both] [--no-peer] [--shape qwen2.5-0.5b|tinyllama-1.1b|all]`
 *
 * Times the LoRA training step — the trainer's own loop (src/runtime/train/loop.ts `train`, with its
 * forward/backward in step.ts, global-norm clipping and AdamW), on random weights built in memory by the
 * same createCausalLM the trainer uses — on the reference configuration and two variants.
 * Each step is timed on the wall clock (what a user waits for): the loop logs every step, and a log is a host
 * sync, so the loop's own tokens/s per step is the step's wall time. The first step (kernel set-up, first
 * allocations) is not counted; the median of the rest is reported. The load average at start is printed
 * too: on a shared machine, read the figures against it, and against the process CPU time per step (all
 * threads, first step included), which other processes' load inflates far less than wall time.
 *
 * FLOPs are counted analytically, per token (E hidden, F ffn, V vocab, L layers, H/KV heads, D head dim,
 * T sequence, r rank). A frozen weight costs 4 FLOPs per parameter per token, not full training's 6,
 * because LoRA never computes the frozen weights' gradient:
 *   frozen linears   4 · P_lin            forward x·Wᵀ (2 per weight) + backward dx = dy·W (2 per weight),
 *                                         P_lin = L·(E·H·D + 2·E·KV·D + H·D·E + 3·E·F) + E·V (lm_head)
 *   attention        12 · L · T · H · D   q·kᵀ and p·v forward (2·T·D each, per head), twice that backward
 *                                         (full T×T products: the causal mask does not skip work)
 *   adapters         Σ 6 · r · (in + out) forward x·A, (xA)·B; backward dB, d(xA), dA, dx (each 2·r·dim)
 * Element-wise ops (norms, softmax, rope, SwiGLU, AdamW) are not counted.
 * MFU = achieved GFLOP/s ÷ (peak × threads), the peak being this backend's measured plain 2-D matMul
 * [512,512]×[512,512] on one thread (the fastest of timed repetitions), the best any one thread can do.
 *
 * `--weights bf16` rounds the frozen linear weights to bfloat16 and hands them over 16-bit, as loadCausalLM does
 * for a BF16 checkpoint: on wasm with ftc's kernels they stay 16-bit in the heap (src/runtime/model/half-weight.ts);
 * `both` times each row with float32 and with bf16 weights, one after the other in the same run.
 *
 * --shape (opt-in: minutes per step on 2 cores) adds rows for bench/memory.ts's real model shapes: random
 * weights written by its writer as a sharded BF16 Hugging Face checkpoint in a temporary directory (deleted
 * afterwards), loaded by the runtime's loadCausalLM (16-bit linears on wasm), trained by the same loop at the
 * same batch and sequence, one worker (each worker would load a full copy), with gradient checkpointing (as
 * bench/memory.ts runs them); its recomputed forward pass is not counted in the FLOPs, so their MFU is useful
 * work only. --config filters these rows too: `--shape qwen2.5-0.5b --config Qwen --no-peer` runs that row alone.
 *
 * The peer (bench/peer.ts): when the reference configuration runs, the same step (same config.json, LoRA,
 * AdamW and clipping, batch, sequence, steps and warm-up) runs in transformers + peft on PyTorch CPU with 1
 * and 2 threads, and ftc's best tokens/s on the reference is printed as a ratio to the peer's best.
 *
 * `--attention` picks the attention route (src/runtime/model/attention.ts): auto is the built-in fused one;
 * batched and per-head are the autodiff routes it replaced; compare times batched, then fused, for every
 * row, in the same process. Worker threads always take the built-in route, so use it with `--workers 1`.
 * `--seq` sets the sequence length (128 by default).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '../src/runtime/tf.js';
import { initBackend, type BackendPreference } from '../src/runtime/backend.js';
import { attentionBatched, attentionPerHead, setAttentionImpl } from '../src/runtime/model/attention.js';
import type { WeightMap } from '../src/runtime/model/api.js';
import { createCausalLM, loadCausalLM, type LlamaCausalLM } from '../src/runtime/model/causal-lm.js';
import { encodeBf16, halfHostTensor } from '../src/runtime/model/half.js';
import { isFrozenMatrix } from '../src/runtime/model/weights.js';
import type { LlamaConfig } from '../src/model-spec/config.js';
import { initModelConfig, initWeights } from '../src/runtime/model/init.js';
import type { Example, ExampleSource } from '../src/runtime/train/batches.js';
import { train, type TrainConfig } from '../src/runtime/train/loop.js';
import { WorkerPool } from '../src/runtime/train/parallel/pool.js';
import { type GradientEngine, localEngine } from '../src/runtime/train/step.js';
import type { Benchmark } from './main.js';
import { QWEN, TINYLLAMA, type Shape, writeCheckpoint } from './memory.js';
import { type PeerResult, runPeer } from './peer.js';

interface Variant {
  name: string;
  layers: number;
  hidden: number;
  heads: number;
  kvHeads: number;
  ffn: number;
}

const VARIANTS: Variant[] = [
  { name: 'reference 256/4L/8H', layers: 4, hidden: 256, heads: 8, kvHeads: 8, ffn: 688 },
  { name: 'GQA 256/4L/8H/2KV', layers: 4, hidden: 256, heads: 8, kvHeads: 2, ffn: 688 },
  { name: 'large 512/8L/8H', layers: 8, hidden: 512, heads: 8, kvHeads: 8, ffn: 1376 },
];
const REFERENCE = VARIANTS[0]!;
/** The opt-in rows of --shape: bench/memory.ts's shapes, by the flag's value. */
const SHAPES: Record<string, Pick<Shape, 'name' | 'configJson'>> = {
  'qwen2.5-0.5b': { name: 'Qwen2.5-0.5B (ckpt)', configJson: QWEN },
  'tinyllama-1.1b': { name: 'TinyLlama-1.1B (ckpt)', configJson: TINYLLAMA },
};
const VOCAB = 2048;
const DEFAULT_SEQ = 128;
const BATCH = 4;
const LORA = { r: 8, alpha: 32, targetModules: ['q_proj', 'v_proj'], dropout: 0.05, bias: 'none' as const, useRslora: false, seed: 1 };
const TRAIN: Omit<TrainConfig, 'maxSteps'> = {
  batchSize: BATCH, gradAccum: 1, epochs: 1, lr: 2e-4, weightDecay: 0.01, beta1: 0.9, beta2: 0.999, eps: 1e-8,
  scheduler: 'linear', warmupSteps: 0, warmupRatio: 0, maxGradNorm: 1, logEvery: 1, evalEvery: 0, saveEvery: 0, patience: 0, seed: 42,
};

type WeightsKind = 'f32' | 'bf16';

interface Row {
  config: string;
  weights: WeightsKind;
  attention: string;
  backend: string;
  workers: number;
  median_step_s: number;
  tokens_per_s: number;
  gflop_per_step: number;
  gflop_per_s: number;
  peak_gflop_per_s_per_thread: number;
  mfu: number;
  /** Process CPU time (every thread of this process) per step, first step included: what load does not inflate much. */
  cpu_s_per_step: number;
  peak_rss_mib: number;
  steps_timed: number;
}

/** Analytic FLOPs of one training step (formula in the header comment). */
export function stepFlops(c: LlamaConfig, lora: { r: number; targetModules: string[] }, batch: number, seq: number): number {
  const { hiddenSize: e, intermediateSize: f, vocabSize: v, numHiddenLayers: l, numAttentionHeads: h, numKeyValueHeads: kv, headDim: d } = c;
  const dims: Record<string, [number, number]> = {
    q_proj: [e, h * d], k_proj: [e, kv * d], v_proj: [e, kv * d], o_proj: [h * d, e], gate_proj: [e, f], up_proj: [e, f], down_proj: [f, e],
  };
  const pLin = l * Object.values(dims).reduce((s, [i, o]) => s + i * o, 0) + e * v;
  const attention = 12 * l * seq * h * d;
  const adapters = l * lora.targetModules.reduce((s, m) => s + 6 * lora.r * (dims[m]![0] + dims[m]![1]), 0);
  return (4 * pLin + attention + adapters) * batch * seq;
}

/**
 * One thread's plain 2-D matMul GFLOP/s on the active backend: the fastest of 40 timed calls after 1.5 s of
 * warm-up. The fastest, not the median: on a shared machine other processes slow some calls down, and a
 * median-based peak came out between 17 and 46 GFLOP/s for the same kernel, so MFU read above 100%.
 */
function matMulPeak(): number {
  const n = 512;
  const a = tf.randomNormal([n, n], 0, 1, 'float32', 1);
  const b = tf.randomNormal([n, n], 0, 1, 'float32', 2);
  const once = () => {
    const t0 = performance.now();
    const c = tf.matMul(a, b);
    c.dataSync(); // the real sync on a native or GPU backend; on wasm/cpu (synchronous kernels) only a 1 MiB copy out, counted in
    const ms = performance.now() - t0;
    c.dispose();
    return ms;
  };
  // Warm up for a while, not a few calls: V8 first runs a wasm function on its baseline tier (Liftoff) and
  // swaps in the optimised code only once it is hot; a short warm-up measured 17-27 GFLOP/s for the same kernel.
  const warmUntil = performance.now() + 1500;
  while (performance.now() < warmUntil) once();
  const times = Array.from({ length: 40 }, once);
  tf.dispose([a, b]);
  return (2 * n ** 3) / (Math.min(...times) / 1000) / 1e9;
}

/** The reference step in transformers + peft (bench/peer.ts), with this benchmark's shapes and settings. */
function peer(steps: number, seq: number): PeerResult {
  const config = initModelConfig({ ...REFERENCE, vocab: VOCAB, maxPositions: seq, seed: 0, dtype: 'f32', corpus: [] });
  return runPeer({
    config, batch: BATCH, seq, lora: LORA, warmup: 1, steps, seed: TRAIN.seed,
    optim: { lr: TRAIN.lr, weightDecay: TRAIN.weightDecay, beta1: TRAIN.beta1, beta2: TRAIN.beta2, eps: TRAIN.eps, maxGradNorm: TRAIN.maxGradNorm },
  });
}

/**
 * ftc's best reference tokens/s over the peer's best, or undefined when either is missing; with both sides'
 * one-thread CPU time per step, the figure that a crowded machine distorts least.
 */
function peerRatio(rows: Row[], p: PeerResult): { ftc: number; peer: number; ratio: number; cpu1?: { ftc: number; peer: number } } | undefined {
  const ref = rows.filter((r) => r.config === REFERENCE.name);
  const ftc = Math.max(...ref.map((r) => r.tokens_per_s));
  if (!p.ran || !Number.isFinite(ftc)) return undefined;
  const best = Math.max(...p.rows.map((r) => r.tokens_per_s));
  const ftc1 = ref.find((r) => r.workers === 1), peer1 = p.rows.find((r) => r.threads === 1);
  const cpu1 = ftc1 && peer1 ? { ftc: ftc1.cpu_s_per_step, peer: round(peer1.cpu_s_per_step, 4) } : undefined;
  return { ftc, peer: Math.round(best), ratio: round(ftc / best, 2), cpu1 };
}

function randomExamples(count: number, seed: number, seq: number): ExampleSource {
  let s = seed >>> 0;
  const next = () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) % VOCAB);
  const examples: Example[] = Array.from({ length: count }, () => {
    const ids = Int32Array.from({ length: seq }, next);
    return { ids, labels: ids.slice() };
  });
  return { count, example: (i) => examples[i]! };
}

/** The frozen linear weights and embeddings rounded to bfloat16 and kept 16-bit (HostTensor.half), as a BF16 checkpoint loads. */
function asBf16(weights: WeightMap): WeightMap {
  const out: WeightMap = new Map();
  for (const [name, t] of weights) {
    if (!isFrozenMatrix(name)) {
      out.set(name, t);
      continue;
    }
    const bits = new Uint16Array(t.data.length + (t.data.length & 1));
    for (let i = 0; i < t.data.length; i++) bits[i] = encodeBf16(t.data[i]!);
    out.set(name, halfHostTensor(t.shape, { format: 'bf16', bits }));
  }
  return out;
}

async function measure(v: Variant, backend: string, workers: number, steps: number, peak: number, seq: number, attention: string, kind: WeightsKind): Promise<Row> {
  const config = initModelConfig({ ...v, vocab: VOCAB, maxPositions: seq, seed: 0, dtype: 'f32', corpus: [] });
  const weights = kind === 'bf16' ? asBf16(initWeights(config, 0)) : initWeights(config, 0);
  const model = createCausalLM(config, weights, LORA);
  const pool = workers > 1 ? await WorkerPool.start({ threads: workers, backend, source: { config, weights, lora: LORA }, model }) : undefined;
  try {
    return await timeSteps({ name: v.name, weights: kind, attention, backend, threads: pool?.threads ?? 1, seq }, model, steps, peak, pool);
  } finally {
    await pool?.close();
    model.dispose();
  }
}

/** A --shape row: the checkpoint written to a temporary directory, loaded, trained on one worker with checkpointing. */
async function measureShape(s: Pick<Shape, 'name' | 'configJson'>, backend: string, steps: number, peak: number, seq: number): Promise<Row> {
  const dir = mkdtempSync(join(tmpdir(), 'ftc-bench-train-'));
  try {
    writeCheckpoint(dir, { name: s.name, configJson: { ...s.configJson, max_position_embeddings: Math.max(4096, seq) } });
    const model = loadCausalLM(dir, { lora: LORA });
    try {
      return await timeSteps({ name: s.name, weights: 'bf16', attention: 'auto', backend, threads: 1, seq }, model, steps, peak, localEngine(model, { gradientCheckpointing: true }));
    } finally {
      model.dispose();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

interface RowLabel { name: string; weights: WeightsKind; attention: string; backend: string; threads: number; seq: number }

/** Trains `steps` steps after one warm-up step and reports the median step (header comment). */
async function timeSteps(row: RowLabel, model: LlamaCausalLM, steps: number, peak: number, gradients?: GradientEngine): Promise<Row> {
  const { config } = model;
  const { seq, threads } = row;
  const warmup = 1;
  const cpu0 = process.cpuUsage();
  const result = await train({ model, train: randomExamples(BATCH * (steps + warmup), 7, seq), padId: 0, config: { ...TRAIN, maxSteps: steps + warmup }, gradients });
  const cpu = process.cpuUsage(cpu0);
  const perStep = result.metrics.records.filter((r) => r.tokens_per_s !== undefined).slice(warmup).map((r) => (BATCH * seq) / (r.tokens_per_s as number));
  const stepS = median(perStep);
  const flops = stepFlops(config, LORA, BATCH, seq);
  return {
    config: row.name,
    weights: row.weights,
    attention: row.attention,
    backend: row.backend,
    workers: threads,
    median_step_s: round(stepS, 4),
    tokens_per_s: Math.round((BATCH * seq) / stepS),
    gflop_per_step: round(flops / 1e9, 3),
    gflop_per_s: round(flops / stepS / 1e9, 2),
    peak_gflop_per_s_per_thread: round(peak, 2),
    mfu: round(flops / stepS / 1e9 / (peak * threads), 3),
    cpu_s_per_step: round((cpu.user + cpu.system) / 1e6 / (steps + warmup), 4),
    peak_rss_mib: Math.round(process.resourceUsage().maxRSS / 1024),
    steps_timed: perStep.length,
  };
}

export const benchmark: Benchmark = {
  name: 'train',
  description: 'LoRA training step (trainer loop, AdamW, fp32): step time, tokens/s, GFLOP/s, MFU, peak RSS',
  async run({ json, argv }) {
    const opt = (name: string): string | undefined => {
      const i = argv.findIndex((a) => a === `--${name}` || a.startsWith(`--${name}=`));
      if (i < 0) return undefined;
      return argv[i]!.includes('=') ? argv[i]!.split('=')[1] : argv[i + 1];
    };
    const steps = Number(opt('steps') ?? 5);
    const workersArg = opt('workers');
    const workerCounts = workersArg ? [Number(workersArg)] : [...new Set([1, Math.min(availableParallelism(), BATCH)])];
    const only = opt('config');
    const weightKinds: WeightsKind[] = opt('weights') === 'both' ? ['f32', 'bf16'] : [(opt('weights') ?? 'f32') as WeightsKind];
    const seq = Number(opt('seq') ?? DEFAULT_SEQ);
    const attention = opt('attention') ?? 'auto';
    const routes = attention === 'compare' ? ['batched', 'auto'] : [attention];
    const route = (name: string) => setAttentionImpl(name === 'auto' ? undefined : name === 'batched' ? attentionBatched : attentionPerHead);
    const load = loadavg();
    const choice = await initBackend((opt('backend') ?? 'wasm') as BackendPreference);
    const backend = choice.name;
    const peak = matMulPeak();
    const rows: Row[] = [];
    for (const v of VARIANTS.filter((x) => !only || x.name.startsWith(only))) {
      for (const w of workerCounts) {
        for (const kind of weightKinds) {
          for (const r of routes) {
            route(r);
            const row = await measure(v, backend, w, steps, peak, seq, r, kind);
            rows.push(row);
            if (!json) process.stderr.write(`  ${row.config}, ${row.weights} weights, attention ${r}, ${row.workers} thread(s): ${row.tokens_per_s} tokens/s\n`);
          }
        }
      }
    route('auto');
    }
    const shapeArg = opt('shape');
    const shapeKeys = shapeArg === 'all' ? Object.keys(SHAPES) : shapeArg ? shapeArg.toLowerCase().split(',') : [];
    const unknown = shapeKeys.filter((k) => !SHAPES[k]);
    if (unknown.length) throw new Error(`--shape ${unknown.join(',')}: known shapes are ${Object.keys(SHAPES).join(', ')}, all`);
    for (const k of shapeKeys.filter((x) => !only || SHAPES[x]!.name.startsWith(only))) {
      if (!json) process.stderr.write(`  ${SHAPES[k]!.name}: writing the checkpoint, loading, training (minutes per step)...\n`);
      const row = await measureShape(SHAPES[k]!, backend, steps, peak, seq);
      rows.push(row);
      if (!json) process.stderr.write(`  ${row.config}, 1 thread: ${row.tokens_per_s} tokens/s\n`);
    }
    const runsReference = !only || REFERENCE.name.startsWith(only);
    if (!json && runsReference && !argv.includes('--no-peer')) process.stderr.write('  peer: transformers + peft on PyTorch, 1 and 2 threads...\n');
    const peerResult: PeerResult = argv.includes('--no-peer') ? { ran: false, reason: '--no-peer' }
      : runsReference ? peer(steps, seq) : { ran: false, reason: 'the reference configuration was not run (--config)' };
    const ratio = peerRatio(rows, peerResult);
    const header = {
      backend: `${backend} (${choice.tried.find((t) => t.ok)?.reason ?? ''})`,
      attention,
      cores: availableParallelism(),
      load_average_at_start: load.map((x) => round(x, 2)),
      batch: BATCH, seq, vocab: VOCAB, lora: `r=${LORA.r} alpha=${LORA.alpha} ${LORA.targetModules.join(',')}`,
    };
    if (json) {
      process.stdout.write(JSON.stringify({ benchmark: 'train', ...header, rows, peer: peerResult, ftc_over_peer: ratio }) + '\n');
      return;
    }
    process.stdout.write(`backend ${header.backend}; attention ${attention}; ${header.cores} cores; load average at start ${header.load_average_at_start.join(' ')}\n`);
    process.stdout.write(`plain 2-D matMul peak: ${peak.toFixed(1)} GFLOP/s per thread; batch ${BATCH} × seq ${seq}, vocab ${VOCAB}, LoRA ${header.lora}\n`);
    const cols = ['config', 'weights', 'attention', 'workers', 'step s', 'CPU s/step', 'tokens/s', 'GFLOP/step', 'GFLOP/s', 'MFU', 'peak RSS MiB'];
    const table = rows.map((r) => [r.config, r.weights, r.attention, String(r.workers), r.median_step_s.toFixed(3), r.cpu_s_per_step.toFixed(3), String(r.tokens_per_s), r.gflop_per_step.toFixed(2), r.gflop_per_s.toFixed(1), `${(r.mfu * 100).toFixed(0)}%`, String(r.peak_rss_mib)]);
    const widths = cols.map((c, i) => Math.max(c.length, ...table.map((t) => t[i]!.length)));
    const line = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ') + '\n';
    process.stdout.write(line(cols));
    for (const t of table) process.stdout.write(line(t));
    printPeer(peerResult, ratio, header.load_average_at_start);
  },
};

function printPeer(p: PeerResult, ratio: ReturnType<typeof peerRatio>, ftcLoad: number[]): void {
  if (!p.ran) {
    process.stdout.write(`peer (transformers + peft on PyTorch) not run: ${p.reason}\n`);
    return;
  }
  const v = p.versions;
  process.stdout.write(`peer: transformers ${v.transformers} + peft ${v.peft} on torch ${v.torch}, fp32, attention ${p.attn_implementation}, ` +
    `${p.trainable_params} trainable; load average at start ${p.load_average_at_start.join(' ')}, at end ${p.load_average_at_end.join(' ')}\n`);
  for (const r of p.rows) process.stdout.write(`  ${REFERENCE.name}, ${r.threads} thread(s): step ${r.median_step_s.toFixed(3)} s, CPU ${r.cpu_s_per_step.toFixed(3)} s/step, ${Math.round(r.tokens_per_s)} tokens/s (${r.steps_timed} steps)\n`);
  if (ratio) {
    process.stdout.write(`ftc / peer, reference, best of each: ${ratio.ftc} / ${ratio.peer} tokens/s = ${ratio.ratio.toFixed(2)}× ` +
      `(load average 1 min: ${ftcLoad[0]} at ftc's start, ${p.load_average_at_start[0]} at the peer's)\n`);
    if (ratio.cpu1) process.stdout.write(`CPU s/step, reference, 1 thread: ftc ${ratio.cpu1.ftc.toFixed(3)}, peer ${ratio.cpu1.peer.toFixed(3)}\n`);
  }
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

function round(x: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}
