/**
 * `npm run bench -- memory [--json] [--steps N] [--only NAME] [--dir DIR] [--lengths 512,1024,2048,4096] [--run-all]
 *   [--checkpointing off|on|both] [--attention auto|batched]`
 *
 * Memory on real model shapes. For each row: random weights in the model's exact shapes, written as a real
 * sharded BF16 Hugging Face checkpoint (config.json, model-0000i-of-0000n.safetensors, the index), loaded
 * by the runtime's own loadCausalLM, then LoRA r=8 on q_proj/v_proj trained for a few steps by the trainer's
 * loop (batch 1, the row's max_length) on wasm. Each row runs in a child process of its own, because peak
 * RSS is a per-process maximum and the wasm heap never shrinks, so its figures are that row's alone.
 * Printed per row: the plan's verdict and estimate (src/model-spec/memory.ts), peak RSS, the wasm heap's
 * size at the end (its peak), seconds per step and tokens/s (the median step after the first), and the
 * estimate against the measured heap and peak RSS, each marked within 25% or not (issue 13's bar for the plan).
 * A row the plan says does not fit is not run, unless `--run-all`. Peak RSS and the heap right after loading are
 * printed too: what lazy loading (one host tensor at a time) leaves before the first step.
 * The machine is shared: the load average at start is printed; read the times against it.
 *
 * `--reuse` (with `--dir`) takes a checkpoint an interrupted run left there instead of writing it again; the
 * child's progress (quantization, load, each step with RSS and heap) goes to stderr.
 * `--only reference` runs just the reference rows; `--checkpointing` runs them without gradient checkpointing
 * (off, the default), with it (on), or both; `--attention batched` runs the children on the autodiff attention
 * that the fused one replaced (src/runtime/model/attention.ts), for a before/after comparison.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseLlamaConfig, type LlamaConfig } from '../src/model-spec/config.js';
import { estimateMemory, type TrainingShape } from '../src/model-spec/memory.js';
import { expectedWeightShapes, isOptionalWeight } from '../src/model-spec/modules.js';
import type { HostTensor } from '../src/runtime/model/api.js';
import { writeSafetensors } from '../src/runtime/model/safetensors.js';
import { trainingMemoryTarget } from '../src/runtime/train/parallel/threads.js';
import type { Benchmark } from './main.js';

export interface Shape {
  name: string;
  /** config.json as the checkpoint holds it; the plan reads it through model-spec's parser, as ftc check does. */
  configJson: Record<string, unknown>;
  maxLength: number;
  gradientCheckpointing: boolean;
  /** QLoRA rows: the child quantizes the checkpoint to NF4 (double quant) as the lora stage does, then loads that base. */
  nf4?: boolean;
}

const llama = (dims: Record<string, unknown>) => ({
  architectures: ['LlamaForCausalLM'], model_type: 'llama', rms_norm_eps: 1e-6, rope_theta: 10000, hidden_act: 'silu',
  torch_dtype: 'bfloat16', bos_token_id: 1, eos_token_id: 2, tie_word_embeddings: false, max_position_embeddings: 4096, ...dims,
});
export const QWEN = {
  ...llama({ hidden_size: 896, intermediate_size: 4864, num_hidden_layers: 24, num_attention_heads: 14, num_key_value_heads: 2, vocab_size: 151936 }),
  architectures: ['Qwen2ForCausalLM'], model_type: 'qwen2', tie_word_embeddings: true, bos_token_id: 151643, eos_token_id: 151643,
};
/** A 3B shape (Llama-3.2-3B's dims: a 128k vocabulary, tied). */
export const LLAMA_3B = llama({ hidden_size: 3072, intermediate_size: 8192, num_hidden_layers: 28, num_attention_heads: 24, num_key_value_heads: 8, vocab_size: 128256, tie_word_embeddings: true, rope_theta: 500000 });
/** The seed guide's model: Llama-2-7B's dims. */
export const LLAMA2_7B = llama({ hidden_size: 4096, intermediate_size: 11008, num_hidden_layers: 32, num_attention_heads: 32, num_key_value_heads: 32, vocab_size: 32000, rms_norm_eps: 1e-5, rope_theta: 10000 });
export const TINYLLAMA = llama({ hidden_size: 2048, intermediate_size: 5632, num_hidden_layers: 22, num_attention_heads: 32, num_key_value_heads: 4, vocab_size: 32000 });
/** bench/train.ts's reference configuration (256 hidden, 4 layers, 8 heads, vocab 2048). */
export const REFERENCE = llama({ hidden_size: 256, intermediate_size: 688, num_hidden_layers: 4, num_attention_heads: 8, num_key_value_heads: 8, vocab_size: 2048 });
/** The QLoRA rows' quantization: chat-qlora.ft's (nf4, double_quant = true). */
const NF4 = { type: 'nf4' as const, doubleQuant: true };
export const LORA = { r: 8, alpha: 16, targetModules: ['q_proj', 'v_proj'], dropout: 0.05, bias: 'none' as const, useRslora: false, seed: 1 };
/** Tensors per shard file: about 400 MB of BF16, as HF's default max_shard_size cuts them. */
const SHARD_BYTES = 400e6;

function shapes(lengths: number[], checkpointing: boolean[]): Shape[] {
  return [
    { name: 'Qwen2.5-0.5B', configJson: QWEN, maxLength: 512, gradientCheckpointing: true },
    { name: 'TinyLlama-1.1B', configJson: TINYLLAMA, maxLength: 512, gradientCheckpointing: true },
    // QLoRA (issue 14): the 4-bit base, resident or streamed from the host as the plan decides.
    { name: 'TinyLlama-1.1B nf4', configJson: TINYLLAMA, maxLength: 512, gradientCheckpointing: true, nf4: true },
    { name: '3B nf4', configJson: LLAMA_3B, maxLength: 512, gradientCheckpointing: true, nf4: true },
    { name: 'Llama-2-7B nf4', configJson: LLAMA2_7B, maxLength: 512, gradientCheckpointing: true, nf4: true },
    ...lengths.flatMap((t) => checkpointing.map((c) => ({ name: `reference T=${t}`, configJson: { ...REFERENCE, max_position_embeddings: Math.max(4096, t) }, maxLength: t, gradientCheckpointing: c }))),
  ];
}

const configOf = (s: Pick<Shape, 'name' | 'configJson'>): LlamaConfig => parseLlamaConfig(s.configJson, `${s.name}/config.json`);

function trainingShape(s: Shape): TrainingShape {
  return {
    batchSize: 1, maxLength: s.maxLength, r: LORA.r, targetModules: LORA.targetModules, dropout: LORA.dropout > 0, gradientCheckpointing: s.gradientCheckpointing, workers: 1,
    ...(s.nf4 ? { quantization: 'nf4' as const, doubleQuant: NF4.doubleQuant } : {}),
  };
}

/** Every tensor of the checkpoint with its shape, HF names (model-spec's list, lm_head left out when tied). */
function tensorShapes(c: LlamaConfig): Array<[string, number[]]> {
  return [...expectedWeightShapes(c)].filter(([name]) => !isOptionalWeight(name, c));
}

/** Writes config.json and BF16 shards with an index; values ~U(−0.05, 0.05), norms 1. */
export function writeCheckpoint(dir: string, s: Pick<Shape, 'name' | 'configJson'>): void {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'config.json'), JSON.stringify(s.configJson));
  let seed = 12345;
  const random = (shape: number[], name: string): HostTensor => {
    const n = shape.reduce((a, b) => a * b, 1);
    const data = new Float32Array(n);
    if (name.includes('norm')) data.fill(1);
    else for (let i = 0; i < n; i++) data[i] = ((seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0) / 2 ** 32 - 0.5) * 0.1;
    return { shape, data };
  };
  const all = tensorShapes(configOf(s));
  const shards: Array<Array<[string, number[]]>> = [[]];
  let bytes = 0;
  for (const t of all) {
    const size = t[1].reduce((a, b) => a * b, 1) * 2;
    if (bytes + size > SHARD_BYTES && shards[shards.length - 1]!.length > 0) {
      shards.push([]);
      bytes = 0;
    }
    shards[shards.length - 1]!.push(t);
    bytes += size;
  }
  const weightMap: Record<string, string> = {};
  shards.forEach((names, i) => {
    const file = `model-${String(i + 1).padStart(5, '0')}-of-${String(shards.length).padStart(5, '0')}.safetensors`;
    writeSafetensors(join(dir, file), new Map(names.map(([n, shape]) => [n, { ...random(shape, n), dtype: 'BF16' as const }])), { format: 'pt' });
    for (const [n] of names) weightMap[n] = file;
  });
  writeFileSync(join(dir, 'model.safetensors.index.json'), JSON.stringify({ metadata: {}, weight_map: weightMap }));
}

/** Whether `dir` holds a complete checkpoint of `s` (config.json equal, the index written last). */
function sameCheckpoint(dir: string, s: Pick<Shape, 'configJson'>): boolean {
  try {
    return readFileSync(join(dir, 'config.json'), 'utf8') === JSON.stringify(s.configJson) && existsSync(join(dir, 'model.safetensors.index.json'));
  } catch {
    return false;
  }
}

interface Measured {
  peak_rss_mib: number;
  heap_mib: number;
  s_per_step: number;
  tokens_per_s: number;
  steps: number;
  load_s: number;
  /** Peak RSS and the wasm heap right after loadCausalLM, before any step. */
  load_rss_mib: number;
  load_heap_mib: number;
  /** nf4 rows: seconds to quantize the checkpoint, and the peak RSS by then (the training's own peak comes after). */
  quantize_s?: number;
  quantize_rss_mib?: number;
  /** nf4 rows: where the 4-bit linears were held (the plan's placement). */
  placement?: string;
  error?: string;
}

/** The child's work: load the checkpoint, train `steps` steps, print one JSON line. */
async function child(dir: string, maxLength: number, steps: number, checkpointing: boolean, attention: string, placement: string): Promise<void> {
  const { initBackend } = await import('../src/runtime/backend.js');
  const tf = await import('../src/runtime/tf.js');
  const { loadCausalLM } = await import('../src/runtime/model/causal-lm.js');
  const { train } = await import('../src/runtime/train/loop.js');
  const { localEngine } = await import('../src/runtime/train/step.js');
  await initBackend('wasm');
  if (attention === 'batched') {
    const { attentionBatched, setAttentionImpl } = await import('../src/runtime/model/attention.js');
    setAttentionImpl(attentionBatched);
  }
  const heap = () => (tf.backend() as unknown as { wasm: { HEAPU8: Uint8Array } }).wasm.HEAPU8.length;
  // Progress on stderr, which the parent passes through: a 7B step takes long enough to want to see each one.
  const started = performance.now();
  const note = (what: string) => process.stderr.write(`  [${((performance.now() - started) / 1000).toFixed(0)} s] ${what}; RSS ${Math.round(process.memoryUsage.rss() / 2 ** 20)} MiB (peak ${Math.round(process.resourceUsage().maxRSS / 1024)}), heap ${Math.round(heap() / 2 ** 20)} MiB, load ${loadavg()[0].toFixed(2)}\n`);
  const log = { info: note, warn: note, progress: () => ({ update() {}, done() {} }) };
  const quantized: Partial<Measured> = {};
  let quantizedBase: string | undefined;
  if (placement !== 'none') {
    // As the lora stage does: one bf16 weight at a time into base-4bit.safetensors, never the whole model.
    const { writeQuantizedBase, QUANTIZED_BASE_FILE } = await import('../src/runtime/quant/base-4bit.js');
    const { loadLlamaConfig } = await import('../src/model-spec/config.js');
    const q0 = performance.now();
    quantizedBase = join(dir, QUANTIZED_BASE_FILE);
    writeQuantizedBase(dir, loadLlamaConfig(dir), NF4, quantizedBase);
    quantized.quantize_s = (performance.now() - q0) / 1000;
    quantized.quantize_rss_mib = process.resourceUsage().maxRSS / 1024;
    note(`quantized to nf4 in ${quantized.quantize_s.toFixed(0)} s`);
  }
  const lora = placement === 'none' ? LORA : { ...LORA, quantization: NF4 };
  const t0 = performance.now();
  // The plan's placement, passed through as the trainer stage passes it (src/runtime/stages/trainer.ts).
  const model = loadCausalLM(dir, { lora, quantizedBase, streamQuantized: placement === 'streamed' });
  const loadS = (performance.now() - t0) / 1000;
  const loadRss = process.resourceUsage().maxRSS / 1024;
  const loadHeap = heap() / 2 ** 20;
  note(`loaded (${placement === 'none' ? 'bf16 base' : `nf4 base, ${placement}`}) in ${loadS.toFixed(0)} s`);
  let s = 99;
  const vocab = model.config.vocabSize;
  const example = () => {
    const ids = Int32Array.from({ length: maxLength }, () => (s = (Math.imul(s, 1664525) + 1013904223) >>> 0) % vocab);
    return { ids, labels: ids.slice() };
  };
  const examples = Array.from({ length: steps }, example);
  const out: Measured = { peak_rss_mib: 0, heap_mib: 0, s_per_step: 0, tokens_per_s: 0, steps: 0, load_s: loadS, load_rss_mib: loadRss, load_heap_mib: loadHeap, ...quantized, ...(placement !== 'none' ? { placement } : {}) };
  try {
    const result = await train({
      model, train: { count: steps, example: (i) => examples[i]! }, padId: 0, log,
      config: {
        batchSize: 1, gradAccum: 1, epochs: 1, lr: 2e-4, weightDecay: 0.01, beta1: 0.9, beta2: 0.999, eps: 1e-8, scheduler: 'linear',
        warmupSteps: 0, warmupRatio: 0, maxGradNorm: 1, logEvery: 1, evalEvery: 0, saveEvery: 0, patience: 0, seed: 42, maxSteps: steps,
      },
      gradients: localEngine(model, { gradientCheckpointing: checkpointing }),
    });
    const perStep = result.metrics.records.filter((r) => r.tokens_per_s !== undefined).map((r) => maxLength / (r.tokens_per_s as number));
    const timed = perStep.length > 1 ? perStep.slice(1) : perStep;
    const sorted = [...timed].sort((a, b) => a - b);
    out.s_per_step = sorted[sorted.length >> 1] ?? 0;
    out.tokens_per_s = out.s_per_step > 0 ? maxLength / out.s_per_step : 0;
    out.steps = perStep.length;
  } catch (e) {
    out.error = e instanceof Error ? `${e.name}: ${e.message.split('\n')[0]}` : String(e);
  }
  out.heap_mib = heap() / 2 ** 20;
  out.peak_rss_mib = process.resourceUsage().maxRSS / 1024;
  model.dispose();
  process.stdout.write(JSON.stringify(out) + '\n');
}

export const benchmark: Benchmark = {
  name: 'memory',
  description: 'real model shapes (Qwen2.5-0.5B, TinyLlama-1.1B as sharded BF16 checkpoints; the reference model at 512-4096): plan vs measured memory, s/step, tokens/s',
  async run({ json, argv }) {
    const opt = (name: string): string | undefined => {
      const i = argv.findIndex((a) => a === `--${name}` || a.startsWith(`--${name}=`));
      if (i < 0) return undefined;
      return argv[i]!.includes('=') ? argv[i]!.split('=')[1] : argv[i + 1];
    };
    const steps = Number(opt('steps') ?? 3);
    const only = opt('only');
    const lengths = (opt('lengths') ?? '512,1024,2048,4096').split(',').map(Number);
    const ckpt = opt('checkpointing') ?? 'off';
    const checkpointing = ckpt === 'both' ? [false, true] : [ckpt === 'on'];
    const attention = opt('attention') ?? 'auto';
    const root = opt('dir') ?? mkdtempSync(join(tmpdir(), 'ftc-bench-memory-'));
    const load = loadavg();
    const rows: Array<Record<string, unknown>> = [];
    const mib = (b: number) => Math.round(b / 2 ** 20);
    if (!json) process.stdout.write(`wasm, 1 worker, attention ${attention}, batch 1, LoRA r=${LORA.r} ${LORA.targetModules.join(',')}; ${availableParallelism()} cores, ${mib(totalmem())} MiB RAM; load average at start ${load.map((x) => x.toFixed(2)).join(' ')}\n`);
    try {
      for (const s of shapes(lengths, checkpointing).filter((x) => !only || x.name.startsWith(only))) {
        const config = configOf(s);
        const shape = trainingShape(s);
        // The target the trainer plans against on wasm, so a row checks the plan training follows.
        const plan = estimateMemory(config, shape, trainingMemoryTarget(config, shape, 'wasm'));
        const row: Record<string, unknown> = {
          model: s.name, max_length: s.maxLength, checkpointing: s.gradientCheckpointing, load_1m_before: Math.round(loadavg()[0] * 100) / 100,
          ...(s.nf4 ? { plan_placement: plan.placement, plan_host_weights_mib: mib(plan.hostWeights) } : {}),
          plan_fits: plan.fitsHeap && plan.fitsRam, plan_heap_mib: mib(plan.perWorker), plan_rss_mib: mib(plan.total),
          plan_activations_mib: mib(plan.activations),
        };
        if (row.plan_fits || argv.includes('--run-all')) {
          const dir = join(root, s.name.replace(/[^A-Za-z0-9.-]+/g, '_'));
          const w0 = performance.now();
          // --reuse: a checkpoint an interrupted run left in --dir with this very config.json is used as it is.
          if (!(argv.includes('--reuse') && sameCheckpoint(dir, s))) writeCheckpoint(dir, s);
          row.write_s = Math.round((performance.now() - w0) / 100) / 10;
          const script = fileURLToPath(import.meta.url);
          let measured: Measured;
          try {
            const stdout = execFileSync(process.execPath, [script, '--child', dir, String(s.maxLength), String(steps), String(s.gradientCheckpointing), attention, s.nf4 ? plan.placement : 'none'], { encoding: 'utf8', maxBuffer: 1 << 24, stdio: ['ignore', 'pipe', json ? 'ignore' : 'inherit'] });
            measured = JSON.parse(stdout.trim().split('\n').pop()!) as Measured;
          } catch (e) {
            measured = { peak_rss_mib: 0, heap_mib: 0, s_per_step: 0, tokens_per_s: 0, steps: 0, load_s: 0, load_rss_mib: 0, load_heap_mib: 0, error: `child failed: ${(e as Error).message.split('\n')[0]}` };
          }
          rmSync(dir, { recursive: true, force: true });
          Object.assign(row, measured);
          row.load_1m_after = Math.round(loadavg()[0] * 100) / 100;
          if (measured.heap_mib > 0) row.plan_vs_heap = Math.round((100 * mib(plan.perWorker)) / measured.heap_mib) / 100;
          if (measured.peak_rss_mib > 0) row.plan_vs_rss = Math.round((100 * mib(plan.total)) / measured.peak_rss_mib) / 100;
        }
        rows.push(row);
        if (!json) process.stdout.write(formatRow(row) + '\n');
      }
    } finally {
      if (!opt('dir')) rmSync(root, { recursive: true, force: true });
    }
    if (json) process.stdout.write(JSON.stringify({ benchmark: 'memory', attention, load_average_at_start: load, load_average_at_end: loadavg(), rows }) + '\n');
    else process.stdout.write(`load average at end ${loadavg().map((x) => x.toFixed(2)).join(' ')}\n`);
  },
};

function formatRow(r: Record<string, unknown>): string {
  const placed = r.plan_placement ? `, ${r.plan_placement}${r.plan_placement === 'streamed' ? ` (${r.plan_host_weights_mib} MiB of 4-bit linears on the host)` : ''}` : '';
  const head = `${String(r.model).padEnd(20)} T=${String(r.max_length).padEnd(5)} ${r.checkpointing ? 'ckpt' : '    '} plan: ${r.plan_fits ? 'fits' : 'does not fit'}${placed} (heap ${r.plan_heap_mib} MiB, process ${r.plan_rss_mib} MiB, activations ${r.plan_activations_mib} MiB); load ${r.load_1m_before}`;
  if (!r.plan_fits && r.steps === undefined && r.error === undefined) return `${head}; not run`;
  if (r.error && !r.steps) return `${head}; FAILED: ${r.error}`;
  const rss = Number(r.peak_rss_mib).toFixed(0);
  const heap = Number(r.heap_mib).toFixed(0);
  const loaded = `after load: RSS ${Number(r.load_rss_mib).toFixed(0)} MiB, heap ${Number(r.load_heap_mib).toFixed(0)} MiB`;
  const quant = r.quantize_s !== undefined ? `; quantized in ${Number(r.quantize_s).toFixed(0)} s (peak RSS by then ${Number(r.quantize_rss_mib).toFixed(0)} MiB)` : '';
  return `${head}\n    measured: peak RSS ${rss} MiB, heap ${heap} MiB, ${Number(r.s_per_step).toFixed(2)} s/step, ${Number(r.tokens_per_s).toPrecision(3)} tokens/s over ${r.steps} steps (load ${Number(r.load_s).toFixed(1)} s; ${loaded}${quant}); load ${r.load_1m_after}${r.error ? `; then ${r.error}` : ''}` +
    `\n    plan/measured: heap ×${r.plan_vs_heap} ${within(r.plan_vs_heap)}, process/peak RSS ×${r.plan_vs_rss} ${within(r.plan_vs_rss)}`;
}

/** Issue 13's bar: the plan within 25% of what was measured, either way. */
function within(ratio: unknown): string {
  const x = Number(ratio);
  return Number.isFinite(x) && x > 0 ? (Math.abs(x - 1) <= 0.25 ? '(within 25%)' : '(NOT within 25%)') : '(not measured)';
}

// Run as a row's child process: `node dist/bench/memory.js --child DIR MAX_LENGTH STEPS CHECKPOINTING ATTENTION`.
if (process.argv[2] === '--child' && process.argv[1] === fileURLToPath(import.meta.url)) {
  await child(process.argv[3]!, Number(process.argv[4]), Number(process.argv[5]), process.argv[6] === 'true', process.argv[7] ?? 'auto', process.argv[8] ?? 'none');
}
