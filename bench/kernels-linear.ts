/**
 * The frozen-linear half of `npm run bench -- kernels`: GFLOP/s of the products a decoder linear runs, at the
 * shapes of real models, for each way ftc keeps a frozen weight W [N, K] (Hugging Face's [out, in]):
 *   forward   y = x·Wᵀ   x [M, K]   (the wide-output product: N is the FFN width or the vocabulary)
 *   backward  dx = dy·W  dy [M, N]  (the input gradient)
 *   gemv      y = x·Wᵀ   x [1, K]   (decoding one token)
 * f32 weights go through tf.matMul (ftc's BatchMatMul kernel), bf16 through HalfWeight, nf4 through Nf4Weight,
 * exactly as the model's FrozenLinear calls them. Time is process CPU time, as in kernels.ts.
 */
import * as tf from '../src/runtime/tf.js';
import { HalfWeight } from '../src/runtime/model/half-weight.js';
import { Nf4Weight } from '../src/runtime/quant/nf4-weight.js';
import { quantize4bit } from '../src/runtime/quant/quantize4bit.js';

/** [K (in), N (out)]: Qwen2.5-0.5B's FFN, TinyLlama's FFN, Llama-7B's FFN, TinyLlama's LM head. */
export const LINEAR_SHAPES: Array<[number, number]> = [[896, 4864], [2048, 5632], [4096, 11008], [2048, 32000]];
export const WEIGHT_KINDS = ['f32', 'bf16', 'nf4'] as const;
export type WeightKind = (typeof WEIGHT_KINDS)[number];
export type Direction = 'forward' | 'backward' | 'gemv';

export interface LinearRow {
  K: number;
  N: number;
  weight: WeightKind;
  direction: Direction;
  M: number;
  gflops: number;
  ms_per_call: number;
  calls: number;
}

interface Frozen {
  forward(x: tf.Tensor2D): tf.Tensor2D;
  backward(dy: tf.Tensor2D): tf.Tensor2D;
  dispose(): void;
}

/** Uniform values in [-0.5, 0.5) from a tiny LCG: the weights are random, but every run sees the same ones. */
function values(n: number, seed: number): Float32Array {
  const out = new Float32Array(n);
  let s = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = s / 2 ** 32 - 0.5;
  }
  return out;
}

/** The weight in the representation `kind`, built from the same f32 values. */
function frozen(kind: WeightKind, w: Float32Array, N: number, K: number): Frozen {
  if (kind === 'f32') {
    const t = tf.tensor2d(w, [N, K]);
    return {
      forward: (x) => tf.matMul(x, t, false, true),
      backward: (dy) => tf.matMul(dy, t),
      dispose: () => t.dispose(),
    };
  }
  if (kind === 'bf16') {
    // Round-to-nearest-even is not needed for a benchmark: truncation gives bf16 values all the same.
    const bits = new Uint16Array(w.length);
    const u32 = new Uint32Array(w.buffer, w.byteOffset, w.length);
    for (let i = 0; i < w.length; i++) bits[i] = u32[i]! >>> 16;
    return new HalfWeight(N, K, { format: 'bf16', bits });
  }
  return new Nf4Weight(quantize4bit(w, [N, K], { type: 'nf4', blocksize: 64, doubleQuant: true }));
}

function cpuSeconds(): number {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1e6;
}

/** Calls `once` after one warm-up call until `ms` of CPU time have passed (at least one timed call). */
function timed(once: () => void, ms: number): { seconds: number; calls: number } {
  once();
  const start = cpuSeconds();
  let calls = 0;
  do {
    once();
    calls++;
  } while (cpuSeconds() - start < ms / 1000);
  return { seconds: cpuSeconds() - start, calls };
}

/** Every (shape, weight, direction) row; `onRow` sees each as it is measured (progress on a slow machine). */
export function benchLinear(opts: { shapes: Array<[number, number]>; weights: readonly WeightKind[]; M: number; ms: number },
  onRow: (r: LinearRow) => void): LinearRow[] {
  const rows: LinearRow[] = [];
  for (const [K, N] of opts.shapes) {
    const w = values(N * K, K * 31 + N);
    const x = tf.tensor2d(values(opts.M * K, 7), [opts.M, K]);
    const dy = tf.tensor2d(values(opts.M * N, 11), [opts.M, N]);
    const x1 = tf.tensor2d(values(K, 13), [1, K]);
    try {
      for (const kind of opts.weights) {
        const weight = frozen(kind, w, N, K);
        try {
          const cases: Array<[Direction, number, () => tf.Tensor]> = [
            ['forward', opts.M, () => weight.forward(x)],
            ['backward', opts.M, () => weight.backward(dy)],
            ['gemv', 1, () => weight.forward(x1)],
          ];
          for (const [direction, M, run] of cases) {
            const { seconds, calls } = timed(() => tf.dispose(run()), opts.ms);
            const row: LinearRow = {
              K, N, weight: kind, direction, M, calls,
              gflops: (2 * M * N * K * calls) / seconds / 1e9,
              ms_per_call: (seconds / calls) * 1000,
            };
            rows.push(row);
            onRow(row);
          }
        } finally {
          weight.dispose();
        }
      }
    } finally {
      tf.dispose([x, dy, x1]);
    }
  }
  return rows;
}

export function formatLinearRow(r: LinearRow): string {
  const shape = `K=${r.K} N=${r.N}`.padEnd(16);
  return `${shape} ${r.weight.padEnd(5)} ${r.direction.padEnd(8)} M=${String(r.M).padEnd(4)} ${r.gflops.toFixed(2).padStart(7)} GFLOP/s  ${r.ms_per_call.toFixed(2).padStart(9)} ms/call  (${r.calls} calls)`;
}

/** `--shapes=896x4864,2048x32000` → [[896, 4864], [2048, 32000]] (K x N). */
export function parseShapes(arg: string | undefined): Array<[number, number]> {
  if (!arg) return LINEAR_SHAPES;
  return arg.split(',').map((s) => {
    const [K, N] = s.split('x').map(Number);
    if (!(K! > 0 && N! > 0)) throw new Error(`--shapes: '${s}' is not KxN`);
    return [K!, N!];
  });
}
