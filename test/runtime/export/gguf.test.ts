import assert from 'node:assert/strict';
import { openSync, readFileSync, readSync, writeFileSync, closeSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { gguf } from '@huggingface/gguf';
import { FtcError } from '../../../src/errors.js';
import { exportModel } from '../../../src/runtime/export/export-model.js';
import { permuteRope } from '../../../src/runtime/export/gguf.js';
import { quantizeQ8_0 } from '../../../src/runtime/export/gguf-writer.js';
import { mergeAdapter } from '../../../src/runtime/export/merge.js';
import { loadAdapter } from '../../../src/runtime/model/peft.js';
import { loadWeights } from '../../../src/runtime/model/weights.js';
import { tempDir } from '../../helpers.js';
import { makeRandomAdapter, makeTinyModel } from './fixture.js';

/** ggml_type ids, from ggml.h (independent of the writer's table). */
const GGML = { F32: 0, F16: 1, Q8_0: 8, BF16: 30 };

function setup(opts: { tie?: boolean } = {}) {
  const root = tempDir('ftc-gguf-');
  const base = join(root, 'base');
  const adapter = join(root, 'adapter');
  const config = makeTinyModel(base, { tie: opts.tie });
  makeRandomAdapter(adapter, config);
  const gg = (dtype: 'f32' | 'f16' | 'bf16' | 'q8_0') => {
    const out = join(root, dtype);
    exportModel({ modelDir: base, adapterDir: adapter, format: 'gguf', dtype, outDir: out });
    return join(out, 'model.gguf');
  };
  return { root, base, adapter, config, gg };
}

describe('GGUF export, read back with @huggingface/gguf', () => {
  const s = setup();

  for (const dtype of ['f32', 'f16', 'bf16', 'q8_0'] as const) {
    it(`${dtype}: llama metadata, tokenizer and every tensor with llama.cpp's name, shape and type`, async () => {
      const file = s.gg(dtype);
      const { metadata: m, tensorInfos, tensorDataOffset } = await gguf(file, { allowLocalFile: true });
      const md = m as Record<string, unknown>;
      assert.equal(md.version, 3);
      assert.equal(md['general.architecture'], 'llama');
      assert.equal(md['general.alignment'], undefined, 'left out, as the converter does: 32 is the default');
      assert.equal(md['general.type'], 'model');
      assert.equal(md['general.size_label'], '97K', '96,576 parameters');
      assert.equal(md['general.file_type'], { f32: 0, f16: 1, q8_0: 7, bf16: 32 }[dtype]);
      const expect: Record<string, unknown> = {
        'llama.context_length': 128, 'llama.embedding_length': 64, 'llama.block_count': 2, 'llama.feed_forward_length': 80,
        'llama.attention.head_count': 4, 'llama.attention.head_count_kv': 2, 'llama.rope.dimension_count': 16, 'llama.vocab_size': 320,
        'llama.rope.freq_base': 10000, 'tokenizer.ggml.model': 'gpt2', 'tokenizer.ggml.pre': 'gpt-2',
        'tokenizer.ggml.bos_token_id': 1, 'tokenizer.ggml.eos_token_id': 2, 'tokenizer.ggml.unknown_token_id': 0,
        'tokenizer.ggml.padding_token_id': 0, 'tokenizer.ggml.add_bos_token': true, 'tokenizer.ggml.add_eos_token': false,
      };
      for (const [k, v] of Object.entries(expect)) assert.equal(md[k], v, k);
      assert.ok(Math.abs((md['llama.attention.layer_norm_rms_epsilon'] as number) - 1e-6) < 1e-12);

      const tok = JSON.parse(readFileSync(join(s.base, 'tokenizer.json'), 'utf8'));
      const tokens = md['tokenizer.ggml.tokens'] as string[];
      assert.equal(tokens.length, 320);
      for (const [text, id] of Object.entries(tok.model.vocab as Record<string, number>)) assert.equal(tokens[id], text);
      const types = md['tokenizer.ggml.token_type'] as number[];
      assert.deepEqual(types.slice(0, 4), [3, 3, 3, 1], '<unk> <s> </s> are control tokens');
      const unused = tokens.map((t, i) => [t, i] as const).filter(([, i]) => types[i] === 5);
      assert.ok(unused.every(([t, i]) => t === `[PAD${i}]` && !(t in tok.model.vocab)));
      assert.deepEqual(md['tokenizer.ggml.merges'], tok.model.merges);
      assert.equal(md['tokenizer.chat_template'], JSON.parse(readFileSync(join(s.base, 'tokenizer_config.json'), 'utf8')).chat_template);

      const byName = new Map(tensorInfos.map((t) => [t.name, t]));
      const matrix = dtype === 'f32' ? GGML.F32 : dtype === 'f16' ? GGML.F16 : dtype === 'bf16' ? GGML.BF16 : GGML.Q8_0;
      const want: [string, number[], number][] = [['token_embd.weight', [64, 320], matrix], ['output_norm.weight', [64], GGML.F32], ['output.weight', [64, 320], matrix]];
      for (let i = 0; i < 2; i++) {
        want.push(
          [`blk.${i}.attn_norm.weight`, [64], GGML.F32], [`blk.${i}.ffn_norm.weight`, [64], GGML.F32],
          [`blk.${i}.attn_q.weight`, [64, 64], matrix], [`blk.${i}.attn_k.weight`, [64, 32], matrix], [`blk.${i}.attn_v.weight`, [64, 32], matrix],
          [`blk.${i}.attn_output.weight`, [64, 64], matrix], [`blk.${i}.ffn_gate.weight`, [64, 80], matrix], [`blk.${i}.ffn_up.weight`, [64, 80], matrix],
          // ne[0] = 80 is not a whole number of 32-blocks: llama.cpp's converter falls back to f16.
          [`blk.${i}.ffn_down.weight`, [80, 64], dtype === 'q8_0' ? GGML.F16 : matrix],
        );
      }
      assert.deepEqual([...byName.keys()].sort(), want.map((w) => w[0]).sort());
      for (const [name, shape, type] of want) {
        const t = byName.get(name)!;
        assert.deepEqual(t.shape.map(Number), shape, name);
        assert.equal(t.dtype as number, type, `${name} type`);
        assert.equal(Number(t.offset) % 32, 0, `${name} offset aligned`);
      }
      assert.equal(Number(tensorDataOffset) % 32, 0);
    });
  }

  it('f32: tensor data are the merged weights, q and k permuted for GGML rope', async () => {
    const file = s.gg('f32');
    const { tensorInfos, tensorDataOffset } = await gguf(file, { allowLocalFile: true });
    const merged = mergeAdapter(loadWeights(s.base, s.config), loadAdapter(s.adapter, s.config)).weights;
    const read = (name: string, count: number): Float32Array => {
      const info = tensorInfos.find((t) => t.name === name)!;
      const buf = Buffer.alloc(4 * count);
      const fd = openSync(file, 'r');
      readSync(fd, buf, 0, buf.length, Number(tensorDataOffset + info.offset));
      closeSync(fd);
      return new Float32Array(buf.buffer, buf.byteOffset, count);
    };
    const v = merged.get('model.layers.1.self_attn.v_proj.weight')!;
    assert.deepEqual(read('blk.1.attn_v.weight', v.data.length), v.data);
    // Undo llama.cpp's permutation with the inverse reshape: (n_head, d/2, 2, in) → swap → (n_head, 2, d/2, in).
    for (const [hf, gg, heads] of [['q_proj', 'attn_q', 4], ['k_proj', 'attn_k', 2]] as const) {
      const w = merged.get(`model.layers.0.self_attn.${hf}.weight`)!;
      const got = read(`blk.0.${gg}.weight`, w.data.length);
      assert.deepEqual(unpermute(got, heads, w.shape[0]!, w.shape[1]!), w.data, hf);
      assert.notDeepEqual(got, w.data, 'the permutation is not the identity');
    }
  });

  it('tied embeddings: no output.weight (llama.cpp reuses token_embd)', async () => {
    const t = setup({ tie: true });
    const { tensorInfos } = await gguf(t.gg('f16'), { allowLocalFile: true });
    assert.ok(tensorInfos.some((x) => x.name === 'token_embd.weight'));
    assert.ok(!tensorInfos.some((x) => x.name === 'output.weight'));
  });

  it('refuses a tokenizer it cannot map onto llama.cpp (SentencePiece-style byte_fallback)', () => {
    const tok = JSON.parse(readFileSync(join(s.base, 'tokenizer.json'), 'utf8'));
    tok.model.byte_fallback = true;
    writeFileSync(join(s.base, 'tokenizer.json'), JSON.stringify(tok));
    try {
      assert.throws(() => s.gg('f32'), (e: unknown) => e instanceof FtcError && e.code === 'E_EXPORT_TOKENIZER');
    } finally {
      tok.model.byte_fallback = false;
      writeFileSync(join(s.base, 'tokenizer.json'), JSON.stringify(tok));
    }
  });
});

/** Inverse of llama.cpp's permute, written as (h, t, j) ← (h, j, t) over a 4-D index. */
function unpermute(x: Float32Array, heads: number, rows: number, cols: number): Float32Array {
  const d = rows / heads;
  const out = new Float32Array(x.length);
  for (let h = 0; h < heads; h++) for (let t = 0; t < 2; t++) for (let j = 0; j < d / 2; j++) {
    const src = ((h * (d / 2) + j) * 2 + t) * cols; // (h, j, t) in the GGUF layout
    const dst = ((h * 2 + t) * (d / 2) + j) * cols; // (h, t, j) in Hugging Face's
    out.set(x.subarray(src, src + cols), dst);
  }
  return out;
}

describe('rope permutation', () => {
  it('makes GGML interleaved rope on W\'x compute HF rotate-half rope on Wx, so q·k scores are unchanged', () => {
    const heads = 2, d = 8, cols = 5;
    let seed = 11;
    const rnd = () => ((seed = (seed * 16807) % 2147483647) / 2147483647) * 2 - 1;
    const W = { shape: [heads * d, cols], data: Float32Array.from({ length: heads * d * cols }, rnd) };
    const x = Float32Array.from({ length: cols }, rnd);
    const P = permuteRope(W, heads);
    const mv = (m: Float32Array) => Float32Array.from({ length: heads * d }, (_, r) => x.reduce((a, xv, c) => a + m[r * cols + c]! * xv, 0));
    const pos = 3;
    const theta = (j: number) => pos * 10000 ** (-2 * j / d);
    // HF: pair (j, j + d/2); GGML normal mode: pair (2j, 2j + 1); both rotate by theta(j).
    const hf = mv(W.data), gg = mv(P.data);
    for (let h = 0; h < heads; h++) {
      for (let j = 0; j < d / 2; j++) {
        const [c, sn] = [Math.cos(theta(j)), Math.sin(theta(j))];
        const a = hf[h * d + j]!, b = hf[h * d + j + d / 2]!;
        const p = gg[h * d + 2 * j]!, q = gg[h * d + 2 * j + 1]!;
        assert.ok(Math.abs((a * c - b * sn) - (p * c - q * sn)) < 1e-5);
        assert.ok(Math.abs((b * c + a * sn) - (q * c + p * sn)) < 1e-5);
      }
    }
  });
});

describe('q8_0', () => {
  it('quantises a block by hand: d = max|x|/127 as f16, q = round half away from zero', () => {
    const x = new Float32Array(64);
    x.set([127, -127, 0.5, -0.5, 1.5, 2.4, -2.6, 0]);
    // Second block: max 31.75 → d = 0.25 (f16 0x3400); 0.125 → 0.5 → 1, -0.375 → -1.5 → -2, 10 → 40.
    x.set([31.75, 0.125, -0.375, 10], 32);
    const b = quantizeQ8_0(x);
    assert.equal(b.length, 2 * 34);
    assert.equal(b.readUInt16LE(0), 0x3c00, 'd = 1.0 in f16');
    assert.deepEqual([...new Int8Array(b.buffer, b.byteOffset + 2, 8)], [127, -127, 1, -1, 2, 2, -3, 0]);
    assert.equal(b.readUInt16LE(34), 0x3400);
    assert.deepEqual([...new Int8Array(b.buffer, b.byteOffset + 36, 5)], [127, 1, -2, 40, 0]);
    assert.deepEqual([...quantizeQ8_0(new Float32Array(32))], new Array(34).fill(0), 'an all-zero block has d = 0 and q = 0');
  });
});
