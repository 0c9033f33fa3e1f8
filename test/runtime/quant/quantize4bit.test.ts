/**
 * The 4-bit quantizer on values worked out by hand from bitsandbytes' published NF4/FP4 tables; the byte-exact
 * comparison with bitsandbytes itself is test/interop/bitsandbytes.test.ts.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { dequantize4bit, quantize4bit } from '../../../src/runtime/quant/quantize4bit.js';

describe('quantize4bit', () => {
  it('NF4: nearest code, ties to the lower code, high nibble first, odd length padded with the code of 0', () => {
    // absmax 2: 2 → 1.0 (15); 1 → 0.5 lies below the 0.4407/0.5626 midpoint (0.50166) → 12; -2 → -1 (0);
    // 0 → 7; 0.0795803/2 scaled is exactly the 0/0.0796 midpoint → the lower code, 7; the pad nibble is 7.
    const tie = Math.fround((0 + Math.fround(0.07958029955625534)) / 2) * 2;
    const q = quantize4bit(Float32Array.from([2, 1, -2, 0, tie]), [5], { type: 'nf4' });
    assert.deepEqual([...q.packed], [0xfc, 0x07, 0x77]);
    assert.deepEqual([...q.absmax!], [2]);
    assert.deepEqual([...dequantize4bit(q)], [2, Math.fround(0.44070982933044434) * 2, -2, 0, 0]);
  });

  it('FP4: codes in bit order (sign in bit 3)', () => {
    // scaled by absmax 1: 1 → nibble 3 (12/12), 0.5 → 5 (6/12), -1 → 11, -0.25 → 15 (-3/12)
    const q = quantize4bit(Float32Array.from([1, 0.5, -1, -0.25]), [2, 2], { type: 'fp4' });
    assert.deepEqual([...q.packed], [0x35, 0xbf]);
    assert.deepEqual([...dequantize4bit(q)], [1, 0.5, -1, -0.25]);
  });

  it('blocks run along the flattened weight; double quantization keeps absmax within its 8-bit error', () => {
    const x = Float32Array.from({ length: 3 * 64 }, (_, i) => (i % 64 === 0 ? i / 64 + 1 : 0.01));
    const plain = quantize4bit(x, [3, 64], { type: 'nf4' });
    assert.deepEqual([...plain.absmax!], [1, 2, 3]);
    const dq = quantize4bit(x, [3, 64], { type: 'nf4', doubleQuant: true });
    assert.equal(dq.nested!.offset, 2); // mean of 1, 2, 3
    const back = dequantize4bit(dq);
    dequantize4bit(plain).forEach((v, i) => assert.ok(Math.abs(v - back[i]) <= 0.01 * Math.abs(v) + 1e-7, `${i}`));
  });

  it('rejects a block size bitsandbytes does not support', () => {
    assert.throws(() => quantize4bit(new Float32Array(64), [64], { type: 'nf4', blocksize: 48 }), /block size 48/);
  });
});
