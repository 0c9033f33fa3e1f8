/**
 * `npm run bench -- kernels [--json] [--part=builtin,linear] [--shapes=KxN,...] [--weights=f32,bf16,nf4] [--m=512]`:
 *   builtin  GFLOP/s of the wasm backend's built-in BatchMatMul against the SIMD kernels of src/runtime/kernels,
 *            on the shapes the reference Llama step uses (single thread, float32);
 *   linear   GFLOP/s of a frozen linear's forward, backward and GEMV products at real model shapes, for f32,
 *            bf16 and nf4 weights (kernels-linear.ts).
 * Each case is timed for at least `--ms=N` milliseconds of CPU time (default 600) after one warm-up call. The
 * load average is printed before and after: on a shared machine the figures mean little without it.
 */
import * as tf from '../src/runtime/tf.js';
import '@tensorflow/tfjs-backend-wasm';
import type { Benchmark } from './main.js';
import { loadavg } from 'node:os';
import { installWasmKernels, uninstallWasmKernels } from '../src/runtime/kernels/index.js';
import { benchLinear, formatLinearRow, type LinearRow, parseShapes, WEIGHT_KINDS, type WeightKind } from './kernels-linear.js';

interface Case {
  name: string;
  a: number[];
  b: number[];
  transposeA: boolean;
  transposeB: boolean;
}

const CASES: Case[] = [
  { name: 'plain 2-D [512,512]x[512,512]', a: [512, 512], b: [512, 512], transposeA: false, transposeB: false },
  { name: 'transposeA [512,512]ᵀx[512,512]', a: [512, 512], b: [512, 512], transposeA: true, transposeB: false },
  { name: 'transposeB [512,512]x[512,512]ᵀ', a: [512, 512], b: [512, 512], transposeA: false, transposeB: true },
  { name: 'linear [2048,256]x[256,768]', a: [2048, 256], b: [256, 768], transposeA: false, transposeB: false },
  { name: 'linear grad [256,2048]x[2048,768]', a: [2048, 256], b: [2048, 768], transposeA: true, transposeB: false },
  { name: 'attn seq128 q·kᵀ [32,128,32]', a: [32, 128, 32], b: [32, 128, 32], transposeA: false, transposeB: true },
  { name: 'attn seq128 [32,128,32]x[32,32,128]', a: [32, 128, 32], b: [32, 32, 128], transposeA: false, transposeB: false },
  { name: 'attn seq128 p·v [32,128,128]x[32,128,32]', a: [32, 128, 128], b: [32, 128, 32], transposeA: false, transposeB: false },
  { name: 'attn seq512 q·kᵀ [32,512,32]', a: [32, 512, 32], b: [32, 512, 32], transposeA: false, transposeB: true },
  { name: 'attn seq512 p·v [32,512,512]x[32,512,32]', a: [32, 512, 512], b: [32, 512, 32], transposeA: false, transposeB: false },
];

function flops(c: Case): number {
  const ra = c.a.length;
  const M = c.transposeA ? c.a[ra - 1] : c.a[ra - 2];
  const K = c.transposeA ? c.a[ra - 2] : c.a[ra - 1];
  const N = c.transposeB ? c.b[c.b.length - 2] : c.b[c.b.length - 1];
  const batch = c.a.slice(0, -2).reduce((x, y) => x * y, 1);
  return 2 * batch * M * N * K;
}

/**
 * GFLOP/s of repeated calls. The wasm backend runs a kernel synchronously inside the op call, so the
 * result is complete when matMul returns; it is not read back (that would time a copy, not the kernel).
 * Time is this process's CPU time (user + system), not wall time: the kernels run on one thread, and
 * CPU time does not count the time other processes on a busy machine took the core away.
 */
function measure(c: Case, a: tf.Tensor, b: tf.Tensor, ms: number): number {
  const once = () => tf.dispose(tf.matMul(a, b, c.transposeA, c.transposeB));
  once(); // warm-up: first-call setup and heap growth are not measured
  let calls = 0;
  const cpuSeconds = () => {
    const { user, system } = process.cpuUsage();
    return (user + system) / 1e6;
  };
  const start = cpuSeconds();
  while (cpuSeconds() - start < ms / 1000) {
    once();
    calls++;
  }
  const seconds = cpuSeconds() - start;
  return (flops(c) * calls) / seconds / 1e9;
}

export const benchmark: Benchmark = {
  name: 'kernels',
  description: 'wasm matmul kernels: built-in against the SIMD kernels, and frozen-linear products (f32, bf16, nf4) at model shapes, GFLOP/s (one thread)',
  async run({ json, argv }) {
    const arg = (name: string) => argv.find((x) => x.startsWith(`--${name}=`))?.slice(name.length + 3);
    const ms = Number(arg('ms') ?? 600);
    const parts = (arg('part') ?? 'builtin,linear').split(',');
    if (!(await tf.setBackend('wasm'))) throw new Error('the wasm backend failed to initialise');
    const loadStart = load();
    if (!json) process.stdout.write(`load average at start ${loadStart}\n`);
    const builtinRows = parts.includes('builtin') ? compareBuiltin(ms, json) : [];
    let linearRows: LinearRow[] = [];
    if (parts.includes('linear')) {
      const installed = installWasmKernels();
      if (!installed.installed) throw new Error(`kernels not installed: ${installed.reason}`);
      const weights = (arg('weights')?.split(',') ?? WEIGHT_KINDS) as WeightKind[];
      for (const w of weights) if (!WEIGHT_KINDS.includes(w)) throw new Error(`--weights: '${w}' is not one of ${WEIGHT_KINDS.join(', ')}`);
      if (!json) process.stdout.write(`frozen linear W [N, K]: forward x[M,K]·Wᵀ, backward dy[M,N]·W, gemv x[1,K]·Wᵀ\n`);
      linearRows = benchLinear({ shapes: parseShapes(arg('shapes')), weights, M: Number(arg('m') ?? 512), ms }, (r) => {
        if (!json) process.stdout.write(`${formatLinearRow(r)}  load ${loadavg()[0]!.toFixed(2)}\n`);
      });
    }
    const loadEnd = load();
    if (json) {
      process.stdout.write(JSON.stringify({ benchmark: 'kernels', unit: 'GFLOP/s per CPU-second', load_start: loadStart, load_end: loadEnd, rows: builtinRows, linear: linearRows }) + '\n');
      return;
    }
    process.stdout.write(`load average at end ${loadEnd}\n`);
  },
};

function load(): string {
  return loadavg().map((x) => x.toFixed(2)).join(' ');
}

/** The built-in kernel against ours on CASES; prints the table unless `json`. */
function compareBuiltin(ms: number, json: boolean): Array<{ case: string; builtin: number; simd: number; speedup: number }> {
  const rows: Array<{ case: string; builtin: number; simd: number; speedup: number }> = [];
  for (const c of CASES) {
    const a = tf.randomNormal(c.a, 0, 1, 'float32', 1);
    const b = tf.randomNormal(c.b, 0, 1, 'float32', 2);
    uninstallWasmKernels();
    const builtin = measure(c, a, b, ms);
    const installed = installWasmKernels();
    if (!installed.installed) throw new Error(`kernels not installed: ${installed.reason}`);
    const simd = measure(c, a, b, ms);
    tf.dispose([a, b]);
    rows.push({ case: c.name, builtin, simd, speedup: simd / builtin });
    if (!json) process.stderr.write(`  ${c.name}: done\n`);
  }
  if (json) return rows;
  const width = Math.max(...rows.map((r) => r.case.length));
  process.stdout.write(`${'case'.padEnd(width)}  built-in     simd  speed-up\n`);
  for (const r of rows) {
    process.stdout.write(`${r.case.padEnd(width)}  ${r.builtin.toFixed(2).padStart(8)} ${r.simd.toFixed(2).padStart(8)}  ${r.speedup.toFixed(1).padStart(7)}x\n`);
  }
  return rows;
}
