import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { FtcError } from '../../../src/errors.js';
import { readSafetensors, readSafetensorsHeader, writeSafetensors } from '../../../src/runtime/model/safetensors.js';
import { tempDir } from '../../helpers.js';

/** A safetensors file from a header object and raw data bytes, built by hand (not by the writer under test). */
function craft(header: unknown, data: Uint8Array | number[] = [], headerText?: string): Buffer {
  const json = Buffer.from(headerText ?? JSON.stringify(header));
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(json.length));
  return Buffer.concat([len, json, Buffer.from(data)]);
}

function u16le(values: number[]): number[] {
  return values.flatMap((v) => [v & 0xff, v >> 8]);
}

function expectCode(path: string, code: string): void {
  assert.throws(() => readSafetensors(path), (e: unknown) => {
    assert.ok(e instanceof FtcError, `expected FtcError, got ${String(e)}`);
    assert.equal(e.code, code, e.message);
    assert.equal(e.where?.file, path);
    return true;
  });
}

describe('safetensors reading', () => {
  it('decodes F16 and BF16 bit patterns to the values their definitions give', () => {
    const dir = tempDir();
    const f16 = [0x3c00, 0xc000, 0x3555, 0x7bff, 0x0001, 0x0400, 0x7c00, 0x8000];
    // 1, -2, 1/3 rounded (0.333251953125), max 65504, smallest subnormal 2^-24, smallest normal 2^-14, +inf, -0
    const f16Values = [1, -2, 0.333251953125, 65504, 2 ** -24, 2 ** -14, Infinity, -0];
    const bf16 = [0x3f80, 0xc040, 0x3eab, 0x4049, 0xff80];
    // 1, -3, 0.333984375 (= 1.3359375/4), 3.140625, -inf
    const bf16Values = [1, -3, 0.333984375, 3.140625, -Infinity];
    const f32 = new Float32Array([1.5, -0.25]);
    const data = [...u16le(f16), ...u16le(bf16), ...new Uint8Array(f32.buffer)];
    const path = join(dir, 'm.safetensors');
    writeFileSync(path, craft({
      __metadata__: { format: 'pt' },
      half: { dtype: 'F16', shape: [2, 4], data_offsets: [0, 16] },
      brain: { dtype: 'BF16', shape: [5], data_offsets: [16, 26] },
      full: { dtype: 'F32', shape: [2], data_offsets: [26, 34] },
    }, data));
    const t = readSafetensors(path);
    assert.deepEqual(t.get('half')!.shape, [2, 4]);
    assert.deepEqual([...t.get('half')!.data], f16Values);
    assert.ok(Object.is(t.get('half')!.data[7], -0));
    assert.deepEqual([...t.get('brain')!.data], bf16Values);
    assert.deepEqual([...t.get('full')!.data], [1.5, -0.25]);
    assert.deepEqual(readSafetensorsHeader(path).metadata, { format: 'pt' });
  });

  it('reads only the tensors the filter accepts', () => {
    const dir = tempDir();
    const path = join(dir, 'm.safetensors');
    writeFileSync(path, craft({
      a: { dtype: 'F32', shape: [1], data_offsets: [0, 4] },
      ids: { dtype: 'I64', shape: [1], data_offsets: [4, 12] },
    }, new Array(12).fill(0)));
    assert.deepEqual([...readSafetensors(path, { filter: (n) => n === 'a' }).keys()], ['a']);
  });
});

describe('safetensors writing', () => {
  it('round-trips F32 exactly, sorts tensors and pads the header to 8 bytes', () => {
    const dir = tempDir();
    const path = join(dir, 'w.safetensors');
    const z = { dtype: 'F32' as const, shape: [2, 3], data: new Float32Array([1, 2, 3, 4, 5, 6e-30]) };
    const a = { dtype: 'F32' as const, shape: [1], data: new Float32Array([-7.25]) };
    const empty = { dtype: 'F32' as const, shape: [0, 4], data: new Float32Array(0) };
    writeSafetensors(path, new Map([['z', z], ['a', a], ['empty', empty]]), { format: 'pt' });
    const bytes = readFileSync(path);
    const n = Number(bytes.readBigUInt64LE(0));
    assert.equal(n % 8, 0);
    const header = JSON.parse(bytes.subarray(8, 8 + n).toString());
    assert.deepEqual(Object.keys(header), ['__metadata__', 'a', 'empty', 'z']);
    assert.deepEqual(header.a.data_offsets, [0, 4]);
    assert.deepEqual(header.z.data_offsets, [4, 28]);
    assert.equal(bytes.length, 8 + n + 28);
    const back = readSafetensors(path);
    assert.deepEqual([...back.get('z')!.data], [...z.data]);
    assert.deepEqual(back.get('empty')!.shape, [0, 4]);
    assert.equal(back.get('a')!.data[0], -7.25);
  });

  it('rounds to nearest even when writing F16 and BF16', () => {
    const dir = tempDir();
    const path = join(dir, 'h.safetensors');
    // F16: 1/3 -> 0x3555; 1+2^-11 is a tie between 0x3c00 (even) and 0x3c01 -> 0x3c00; 1+3*2^-11 ties to 0x3c02;
    // 65520 ties between 65504 and 2^16 (even) -> +inf 0x7c00; 3e-8 is 0.503 of 2^-24 -> 0x0001; 1e-8 -> 0.
    const halfIn = [1 / 3, 1 + 2 ** -11, 1 + 3 * 2 ** -11, 65520, 3e-8, 1e-8];
    const halfBits = [0x3555, 0x3c00, 0x3c02, 0x7c00, 0x0001, 0x0000];
    // BF16: 1/3 (f32 0x3eaaaaab) -> 0x3eab; 1+2^-8 ties to 0x3f80; 1+3*2^-8 ties to 0x3f82 (1.015625).
    const bfIn = [1 / 3, 1 + 2 ** -8, 1 + 3 * 2 ** -8];
    const bfBits = [0x3eab, 0x3f80, 0x3f82];
    writeSafetensors(path, new Map([
      ['h', { dtype: 'F16' as const, shape: [6], data: new Float32Array(halfIn) }],
      ['b', { dtype: 'BF16' as const, shape: [3], data: new Float32Array(bfIn) }],
    ]));
    const bytes = readFileSync(path);
    const start = 8 + Number(bytes.readBigUInt64LE(0));
    const bits = (offset: number, count: number) => Array.from({ length: count }, (_, i) => bytes.readUInt16LE(start + offset + 2 * i));
    assert.deepEqual(bits(0, 3), bfBits); // 'b' sorts first
    assert.deepEqual(bits(6, 6), halfBits);
    const back = readSafetensors(path);
    assert.deepEqual([...back.get('b')!.data], [0.333984375, 1, 1.015625]);
    assert.deepEqual([...back.get('h')!.data], [0.333251953125, 1, 1 + 2 ** -9, Infinity, 2 ** -24, 0]);
  });
});

describe('hostile and truncated safetensors files', () => {
  const ok = { w: { dtype: 'F32', shape: [2], data_offsets: [0, 8] } };
  const cases: [string, () => Buffer, string][] = [
    ['shorter than the length prefix', () => Buffer.from([1, 2, 3]), 'E_SAFETENSORS_TRUNCATED'],
    ['header length past the end of the file', () => craft(ok, new Array(8).fill(0)).subarray(0, 20), 'E_SAFETENSORS_TRUNCATED'],
    ['header length of 2^60 bytes', () => { const b = craft(ok, new Array(8).fill(0)); b.writeBigUInt64LE(2n ** 60n); return b; }, 'E_SAFETENSORS_HEADER_TOO_LARGE'],
    ['header that is not JSON', () => craft(null, [], '{"w": {"dtype": '), 'E_SAFETENSORS_HEADER_INVALID'],
    ['header that is a JSON array', () => craft([1, 2]), 'E_SAFETENSORS_HEADER_INVALID'],
    ['negative dimension', () => craft({ w: { dtype: 'F32', shape: [-2], data_offsets: [0, 8] } }, new Array(8).fill(0)), 'E_SAFETENSORS_HEADER_INVALID'],
    ['fractional dimension', () => craft({ w: { dtype: 'F32', shape: [1.5], data_offsets: [0, 6] } }, new Array(8).fill(0)), 'E_SAFETENSORS_HEADER_INVALID'],
    ['unknown dtype', () => craft({ w: { dtype: 'Q4_K', shape: [2], data_offsets: [0, 8] } }, new Array(8).fill(0)), 'E_SAFETENSORS_HEADER_INVALID'],
    ['shape whose byte size overflows', () => craft({ w: { dtype: 'F32', shape: [2 ** 40, 2 ** 40], data_offsets: [0, 8] } }, new Array(8).fill(0)), 'E_SAFETENSORS_HEADER_INVALID'],
    ['offsets past the data section (truncated data)', () => craft(ok, new Array(4).fill(0)), 'E_SAFETENSORS_OFFSETS'],
    ['begin after end', () => craft({ w: { dtype: 'F32', shape: [0], data_offsets: [8, 4] } }, new Array(8).fill(0)), 'E_SAFETENSORS_OFFSETS'],
    ['offsets that are not integers', () => craft({ w: { dtype: 'F32', shape: [2], data_offsets: ['0', 8] } }, new Array(8).fill(0)), 'E_SAFETENSORS_OFFSETS'],
    ['byte length disagreeing with the shape', () => craft({ w: { dtype: 'F32', shape: [3], data_offsets: [0, 8] } }, new Array(12).fill(0)), 'E_SAFETENSORS_SIZE_MISMATCH'],
    ['overlapping tensors', () => craft({
      a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] },
      b: { dtype: 'F32', shape: [2], data_offsets: [4, 12] },
    }, new Array(12).fill(0)), 'E_SAFETENSORS_OVERLAP'],
    ['an integer tensor read as weights', () => craft({ w: { dtype: 'I64', shape: [1], data_offsets: [0, 8] } }, new Array(8).fill(0)), 'E_SAFETENSORS_DTYPE'],
    ['metadata that is not strings', () => craft({ __metadata__: { n: 1 }, ...ok }, new Array(8).fill(0)), 'E_SAFETENSORS_HEADER_INVALID'],
  ];
  for (const [what, build, code] of cases) {
    it(`${what} -> ${code}`, () => {
      const path = join(tempDir(), 'bad.safetensors');
      writeFileSync(path, build());
      expectCode(path, code);
    });
  }

  it('a missing file -> E_SAFETENSORS_MISSING', () => expectCode(join(tempDir(), 'nope.safetensors'), 'E_SAFETENSORS_MISSING'));

  it('any truncation or header byte flip of a valid file is an FtcError or a valid read, never a crash', () => {
    const dir = tempDir();
    const good = join(dir, 'good.safetensors');
    writeSafetensors(good, new Map([
      ['a', { dtype: 'F16' as const, shape: [3, 2], data: new Float32Array([1, 2, 3, 4, 5, 6]) }],
      ['b', { dtype: 'F32' as const, shape: [4], data: new Float32Array([1, 2, 3, 4]) }],
    ]));
    const bytes = readFileSync(good);
    const path = join(dir, 'mutated.safetensors');
    fc.assert(fc.property(fc.nat(bytes.length), fc.nat(bytes.length - 1), fc.integer({ min: 0, max: 255 }), fc.boolean(), (cut, at, value, flip) => {
      const mutated = Buffer.from(bytes);
      if (flip) mutated[at] = value;
      writeFileSync(path, flip ? mutated : mutated.subarray(0, cut));
      try {
        for (const t of readSafetensors(path).values()) assert.equal(t.data.length, t.shape.reduce((x, y) => x * y, 1));
      } catch (e) {
        if (!(e instanceof FtcError)) throw e;
      }
    }), { numRuns: 300, seed: 7 });
  });
});
