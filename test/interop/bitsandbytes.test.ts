/**
 * ftc's 4-bit quantizer (src/runtime/quant) against bitsandbytes 0.50.2 on CPU: for each weight below, the packed
 * codes, the absmax (or, with double quantization, the 8-bit quantized absmax, absmax2, offset and the dynamic
 * code) equal `bitsandbytes.functional.quantize_4bit(w, blocksize=64, compress_statistics=..., quant_type=...)`'s
 * byte for byte, and ftc's dequantization equals `dequantize_4bit` within 1e-6.
 *
 * The weights: values exactly on the midpoints between codes (ties, at absmax 1 and 2), zero blocks (full and
 * short last block), subnormal values, sizes that are not a multiple of 64 or of 2, values where the last block's
 * division and the other blocks' reciprocal disagree, absmax whose mean depends on the summation order, a bf16
 * weight, and a real-shaped 896×4864 matrix (Qwen2-0.5B's gate_proj). Raw f32 files travel through a temp dir.
 *
 * And a tiny Llama that transformers quantizes at load (BitsAndBytesConfig(load_in_4bit=True) on CPU) and saves:
 * ftc reads every 4-bit weight's state back, dequantizes it as bitsandbytes does, and finds in it exactly what
 * ftc's own quantizer makes of the unquantized base weight.
 */
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { isFtcError } from '../../src/errors.js';
import { xoshiro128 } from '../../src/runtime/model/init.js';
import { readSafetensors, readSafetensorsHeader } from '../../src/runtime/model/safetensors.js';
import { quantizedFromTensors, quantizedWeightNames, readRawTensors } from '../../src/runtime/quant/bnb-checkpoint.js';
import { FP4_CODE, NF4_CODE } from '../../src/runtime/quant/codebooks.js';
import { blockAbsmax, dequantize4bit, type QuantType, quantize4bit } from '../../src/runtime/quant/quantize4bit.js';
import { tempDir } from '../helpers.js';
import { interopPython, requirePython, runPython } from './env.js';

interface Case {
  name: string;
  shape: number[];
  dtype: 'f32' | 'bf16';
  quant_type: QuantType;
  double_quant: boolean;
  data: Float32Array;
}

interface CaseInfo {
  packed_shape: number[];
  packed_dtype: string;
  absmax_dtype: string;
  nested: boolean;
  blocksize: number;
  shape: number[];
  offset?: number;
  offset_dtype?: string;
  nested_blocksize?: number;
  dynamic_map_is_nested_code?: boolean;
}

function normal(n: number, seed: number, std: number): Float32Array {
  const u = xoshiro128(seed);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = std * Math.sqrt(-2 * Math.log(1 - u())) * Math.cos(2 * Math.PI * u());
  return out;
}

/** Four blocks of 64: exact ties at absmax 1, exact ties at absmax 2, zeros (with -0), subnormals. */
function tiesAndZeros(code: Float32Array, seed: number): Float32Array {
  const sorted = [...code].sort((a, b) => a - b);
  const mids = sorted.slice(1).map((c, i) => Math.fround(Math.fround(sorted[i] + c) / 2));
  const x = normal(256, seed, 0.3).map((v) => Math.max(-0.9, Math.min(0.9, v)));
  x[0] = 1;
  mids.forEach((m, i) => { x[1 + i] = m; x[20 + i] = -m; });
  x[64] = -2;
  mids.forEach((m, i) => { x[65 + i] = 2 * m; });
  x.fill(0, 128, 192);
  x[130] = -0;
  x.fill(0, 192, 256);
  [1e-40, -3e-41, 7e-39, 1e-45].forEach((v, i) => { x[192 + 3 * i] = v; });
  return x;
}

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);
/** x moved by k units in the last place. */
function ulps(x: number, k: number): number {
  f32[0] = x;
  u32[0] += k;
  return f32[0];
}

/**
 * One random block of 64, then a short last block of 40 whose absmax is `am`, holding the values next to the
 * codes' midpoints (scaled by am) where dividing by am and multiplying by the f32 1/am fall on different sides:
 * bitsandbytes divides in the last block only. The candidates are searched here with both formulas written out.
 */
function tailDivisionTies(code: Float32Array, am: number, seed: number): Float32Array {
  const sorted = [...code].sort((a, b) => a - b);
  const mids = sorted.slice(1).map((c, i) => Math.fround(Math.fround(sorted[i] + c) / 2));
  const below = (v: number) => mids.filter((m) => m < v).length;
  const inv = Math.fround(1 / am);
  const found: number[] = [];
  for (const m of mids)
    for (let k = -3; k <= 3; k++) {
      const x = ulps(Math.fround(m * am), k);
      if (Math.abs(x) < am && below(Math.fround(x / am)) !== below(Math.fround(x * inv))) found.push(x);
    }
  assert.ok(found.length >= 3, `only ${found.length} values tell division from reciprocal at absmax ${am}`);
  const x = normal(104, seed, 0.3 * am).map((v) => Math.max(-0.9 * am, Math.min(0.9 * am, v)));
  x[64] = -am;
  found.forEach((v, i) => { x[65 + i] = v; });
  return x;
}

/**
 * 300 blocks whose absmax spans e^-4..e^4: their f32 mean depends on the summation order (this seed's differs
 * between torch's 8-lane cascade, a 16-lane one and an f64 sum rounded once), so the offset pins the order.
 */
function spreadAbsmax(): Float32Array {
  const u = xoshiro128(3);
  const absmax = Float32Array.from({ length: 300 }, () => Math.exp(8 * u() - 4));
  const fill = xoshiro128(13);
  const x = new Float32Array(300 * 64);
  for (let b = 0; b < 300; b++) {
    for (let j = 0; j < 64; j++) x[b * 64 + j] = absmax[b] * (2 * fill() - 1);
    x[b * 64 + Math.floor(fill() * 64)] = fill() < 0.5 ? absmax[b] : -absmax[b];
  }
  return x;
}

function withZeroTail(x: Float32Array, from: number): Float32Array {
  x.fill(0, from);
  return x;
}

function toBf16Rounded(x: Float32Array): Float32Array {
  const u = new Uint32Array(x.buffer.slice(0));
  for (let i = 0; i < u.length; i++) u[i] = ((u[i] + 0x7fff + ((u[i] >> 16) & 1)) >>> 16) << 16;
  return new Float32Array(u.buffer);
}

const GATE_PROJ = normal(896 * 4864, 11, 0.02);

const CASES: Case[] = [
  { name: 'ties_nf4', shape: [4, 64], dtype: 'f32', quant_type: 'nf4', double_quant: false, data: tiesAndZeros(NF4_CODE, 1) },
  { name: 'ties_nf4_dq', shape: [4, 64], dtype: 'f32', quant_type: 'nf4', double_quant: true, data: tiesAndZeros(NF4_CODE, 2) },
  { name: 'ties_fp4', shape: [4, 64], dtype: 'f32', quant_type: 'fp4', double_quant: false, data: tiesAndZeros(FP4_CODE, 3) },
  { name: 'tail_nf4', shape: [7, 50], dtype: 'f32', quant_type: 'nf4', double_quant: false, data: normal(350, 4, 0.02) },
  { name: 'tail_fp4_dq', shape: [7, 50], dtype: 'f32', quant_type: 'fp4', double_quant: true, data: normal(350, 5, 0.02) },
  { name: 'tail_division_nf4', shape: [8, 13], dtype: 'f32', quant_type: 'nf4', double_quant: false, data: tailDivisionTies(NF4_CODE, 7, 14) },
  { name: 'tail_division_fp4', shape: [8, 13], dtype: 'f32', quant_type: 'fp4', double_quant: false, data: tailDivisionTies(FP4_CODE, 3, 15) },
  { name: 'odd_zero_tail', shape: [3, 33], dtype: 'f32', quant_type: 'nf4', double_quant: false, data: withZeroTail(normal(99, 6, 1), 64) },
  { name: 'odd_1d', shape: [33], dtype: 'f32', quant_type: 'fp4', double_quant: false, data: normal(33, 7, 1) },
  { name: 'rows300_dq', shape: [300, 64], dtype: 'f32', quant_type: 'nf4', double_quant: true, data: normal(300 * 64, 8, 0.05) },
  { name: 'spread_absmax_dq', shape: [300, 64], dtype: 'f32', quant_type: 'nf4', double_quant: true, data: spreadAbsmax() },
  { name: 'bf16_dq', shape: [64, 96], dtype: 'bf16', quant_type: 'nf4', double_quant: true, data: toBf16Rounded(normal(64 * 96, 9, 0.02)) },
  { name: 'fp4_dq', shape: [256, 384], dtype: 'f32', quant_type: 'fp4', double_quant: true, data: normal(256 * 384, 10, 0.02) },
  { name: 'gate_proj_nf4', shape: [896, 4864], dtype: 'f32', quant_type: 'nf4', double_quant: false, data: GATE_PROJ },
  { name: 'gate_proj_nf4_dq', shape: [896, 4864], dtype: 'f32', quant_type: 'nf4', double_quant: true, data: GATE_PROJ },
];

function bf16Bits(x: Float32Array): Uint16Array {
  const u = new Uint32Array(x.buffer, x.byteOffset, x.length);
  return Uint16Array.from(u, (v) => v >>> 16);
}

function bytesOf(a: ArrayBufferView): Buffer {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength);
}

/** Equal bytes, or a message naming the first differing element. */
function sameBytes(what: string, ours: ArrayBufferView, file: string, elementSize: number): void {
  const theirs = readFileSync(file);
  const mine = bytesOf(ours);
  assert.equal(mine.length, theirs.length, `${what}: ${mine.length} bytes, bitsandbytes ${theirs.length}`);
  if (mine.equals(theirs)) return;
  let diffs = 0;
  let first = -1;
  for (let i = 0; i < mine.length; i += elementSize)
    if (!mine.subarray(i, i + elementSize).equals(theirs.subarray(i, i + elementSize))) { diffs++; if (first < 0) first = i / elementSize; }
  assert.fail(`${what}: ${diffs} elements differ, first at ${first}`);
}

function assertClose(what: string, ours: Float32Array, theirs: Float32Array): void {
  assert.equal(ours.length, theirs.length, what);
  let maxErr = 0;
  for (let i = 0; i < ours.length; i++) maxErr = Math.max(maxErr, Math.abs(ours[i] - theirs[i]));
  assert.ok(maxErr <= 1e-6, `${what} differs by ${maxErr}`);
}

function f32File(file: string): Float32Array {
  const b = readFileSync(file);
  return new Float32Array(b.buffer, b.byteOffset, b.length / 4);
}

const CHECKPOINTS = [
  { name: 'ckpt_nf4_dq', quant_type: 'nf4', double_quant: true },
  { name: 'ckpt_fp4', quant_type: 'fp4', double_quant: false },
] as const;

interface Report {
  torch_threads: number;
  cases: Record<string, CaseInfo>;
  checkpoints: Record<string, { weights: string[] }>;
}

describe('4-bit quantization equals bitsandbytes 0.50.2 (CPU)', () => {
  const dir = tempDir('ftc-bnb-');
  let report: Report | undefined;
  before(() => {
    const env = interopPython();
    if (!('python' in env)) return;
    for (const c of CASES) writeFileSync(join(dir, `${c.name}.in`), bytesOf(c.dtype === 'bf16' ? bf16Bits(c.data) : c.data));
    const cases = CASES.map(({ data: _, ...meta }) => meta);
    report = runPython<Report>(env.python, 'bnb_quant.py', { dir, cases, checkpoints: CHECKPOINTS });
  });

  it('packed codes, absmax, double-quant state byte for byte; dequantization within 1e-6', (t) => {
    if (!requirePython(t)) return;
    const rep: Report | undefined = report;
    assert.ok(rep);
    assert.equal(rep.torch_threads, 1, 'the offset is compared with torch summing on one thread');

    for (const c of CASES) {
      const info: CaseInfo = rep.cases[c.name];
      const file = (part: string) => join(dir, `${c.name}.${part}`);
      const input = c.dtype === 'bf16' ? bf16Bits(c.data) : c.data;
      const q = quantize4bit(input, c.shape, { type: c.quant_type, blocksize: 64, doubleQuant: c.double_quant });
      assert.deepEqual(info.packed_shape, [q.packed.length, 1], c.name);
      assert.equal(info.packed_dtype, 'torch.uint8');
      assert.deepEqual(info.shape, c.shape);
      assert.equal(info.nested, c.double_quant);
      sameBytes(`${c.name} packed`, q.packed, file('packed'), 1);
      sameBytes(`${c.name} code`, q.code, file('code'), 4);
      if (c.double_quant) {
        assert.ok(q.nested);
        assert.equal(info.absmax_dtype, 'torch.uint8');
        sameBytes(`${c.name} quantized absmax`, q.nested.codes, file('absmax'), 1);
        sameBytes(`${c.name} absmax2`, q.nested.absmax2, file('absmax2'), 4);
        sameBytes(`${c.name} nested code`, q.nested.code, file('nested_code'), 4);
        assert.equal(info.offset_dtype, 'torch.float32');
        assert.equal(q.nested.offset, info.offset, `${c.name} offset`);
        assert.equal(info.nested_blocksize, q.nested.blocksize);
        assert.equal(info.dynamic_map_is_nested_code, true);
      } else {
        assert.ok(q.absmax);
        assert.equal(info.absmax_dtype, 'torch.float32');
        sameBytes(`${c.name} absmax`, q.absmax, file('absmax'), 4);
      }
      assert.equal(blockAbsmax(q).length, Math.ceil(c.data.length / 64));
      assertClose(`${c.name} dequantization`, dequantize4bit(q), f32File(file('dequant')));
    }
  });

  it('reads the 4-bit checkpoint transformers saves; it holds what ftc quantizes from the same base', (t) => {
    if (!requirePython(t)) return;
    const rep: Report | undefined = report;
    assert.ok(rep);
    for (const ck of CHECKPOINTS) {
      const root = join(dir, ck.name);
      const file = join(root, 'q4', 'model.safetensors');
      const names = quantizedWeightNames(readSafetensorsHeader(file).tensors.keys());
      assert.deepEqual(names.sort(), [...rep.checkpoints[ck.name].weights].sort());
      assert.equal(names.length, 7, 'q/k/v/o and gate/up/down of the one layer; embeddings and lm_head stay unquantized');
      const raw = readRawTensors(file, (n) => names.some((w) => n.startsWith(w)));
      const base = readSafetensors(join(root, 'base', 'model.safetensors'));
      for (const w of names) {
        const q = quantizedFromTensors(w, raw, file);
        assert.equal(q.quantType, ck.quant_type);
        assertClose(`${ck.name} ${w} dequantization`, dequantize4bit(q), f32File(join(root, `${w}.dequant`)));
        const fromBase = quantize4bit(base.get(w)!.data, base.get(w)!.shape, { type: ck.quant_type, doubleQuant: ck.double_quant });
        assert.deepEqual(q.shape, fromBase.shape);
        assert.ok(bytesOf(q.packed).equals(bytesOf(fromBase.packed)), `${ck.name} ${w}: packed codes differ from ftc's`);
        assert.deepEqual(q.code, fromBase.code);
        if (ck.double_quant) {
          assert.ok(q.nested && fromBase.nested);
          assert.ok(bytesOf(q.nested.codes).equals(bytesOf(fromBase.nested.codes)), `${w} quantized absmax`);
          assert.deepEqual(q.nested.absmax2, fromBase.nested.absmax2);
          assert.equal(q.nested.offset, fromBase.nested.offset);
          assert.deepEqual(q.nested.code, fromBase.nested.code);
        } else {
          assert.deepEqual(q.absmax, fromBase.absmax);
        }
      }
      // A checkpoint without its quant state is the user's to fix, not a crash.
      const w = names[0];
      const broken = new Map([...raw].filter(([n]) => !n.startsWith(`${w}.quant_state`)));
      assert.throws(() => quantizedFromTensors(w, broken, file), (e: unknown) => isFtcError(e) && e.code === 'E_BNB_QUANT_STATE');
    }
  });
});
