/**
 * ftc's GGUF exports (f32, f16, q8_0) read by gguf-py (the `gguf` package llama.cpp's converter is built on), and
 * compared with what convert_hf_to_gguf.py writes for the same Hugging Face model as far as gguf-py can tell
 * (interop/py/gguf_read.py builds that expectation from gguf-py's own tables and classes):
 *
 * - every metadata key the converter writes for a Llama model, with its value and value type, and no other
 *   (general.name aside): hyper-parameters from config.json, general.type/size_label/file_type, the tokenizer's
 *   tokens and types as the converter derives them from AutoTokenizer, and SpecialVocab's merges, special ids and
 *   add_*_token flags;
 * - every tensor under gguf-py's name for it (get_tensor_name_map(MODEL_ARCH.LLAMA)), with the converter's type
 *   choice, and bytes equal to gguf.quants.quantize of ftc's merged weights (its own merged f32 export) after
 *   the converter's q/k permutation; q8_0 blocks dequantized by gguf.quants.dequantize within q8_0's error.
 *
 * The model: the export fixture's tiny GQA Llama (4 query / 2 key-value heads, so k is permuted with the kv head
 * count; FFN 80, so down_proj falls back to f16 under q8_0), with a non-default rope base and two added tokens
 * that are not marked special (one looks special, one is SentencePiece-style user-defined).
 */
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { exportModel } from '../../src/runtime/export/export-model.js';
import { tempDir } from '../helpers.js';
import { makeRandomAdapter, makeTinyModel } from '../runtime/export/fixture.js';
import { interopPython, requirePython, runPython } from './env.js';

interface FileReport {
  mismatches: string[];
  tensors: number;
  keys: number;
  types: Record<string, number>;
  q8_0_blocks: number;
  q8_0_max_err_over_d: number;
  size_label: string | null;
}
type Report = { tokenizer_path: string } & Record<'f32' | 'f16' | 'q8_0', FileReport>;

const DTYPES = ['f32', 'f16', 'q8_0'] as const;

/** Writes the model, adapter, the three GGUF exports and the merged f32 export; returns what gguf_read.py needs. */
function exportAll(): { files: Record<string, string>; base: string; merged: string } {
  const root = tempDir('ftc-gguf-py-');
  const base = join(root, 'base');
  const adapter = join(root, 'adapter');
  const config = makeTinyModel(base);
  makeRandomAdapter(adapter, config);
  const cfgFile = join(base, 'config.json');
  writeFileSync(cfgFile, JSON.stringify({ ...JSON.parse(readFileSync(cfgFile, 'utf8')), rope_theta: 500000 }, null, 2));
  const tokFile = join(base, 'tokenizer.json');
  const tok = JSON.parse(readFileSync(tokFile, 'utf8'));
  // Next to the last id in use, as transformers itself numbers added tokens; the fixture's vocabulary ends well below vocab_size.
  const free = Math.max(...Object.values(tok.model.vocab as Record<string, number>)) + 1;
  assert.ok(free + 2 < config.vocabSize);
  const addedToken = (id: number, content: string, normalized: boolean) => ({ id, content, single_word: false, lstrip: false, rstrip: false, normalized, special: false });
  tok.added_tokens.push(addedToken(free, '<|user|>', false), addedToken(free + 1, 'ftc\u2581word', true));
  writeFileSync(tokFile, JSON.stringify(tok));

  const files: Record<string, string> = {};
  for (const dtype of DTYPES) {
    const out = join(root, dtype);
    exportModel({ modelDir: base, adapterDir: adapter, format: 'gguf', dtype, outDir: out });
    files[dtype] = join(out, 'model.gguf');
  }
  const merged = join(root, 'merged');
  exportModel({ modelDir: base, adapterDir: adapter, format: 'merged', dtype: 'f32', outDir: merged });
  return { files, base, merged };
}

describe('GGUF export read by gguf-py, against what llama.cpp\'s converter writes', () => {
  let report: Report | undefined;
  before(() => {
    const env = interopPython();
    if ('python' in env) report = runPython<Report>(env.python, 'gguf_read.py', exportAll());
  });

  it('the converter would take the GPT-2 BPE tokenizer path for this tokenizer.json (gguf-py\'s LlamaHfVocab refuses it)', (t) => {
    if (!requirePython(t)) return;
    assert.equal(report!.tokenizer_path, 'gpt2');
  });

  for (const dtype of DTYPES) {
    it(`${dtype}: GGUFReader opens it; metadata keys, values and types and every tensor's name, type, shape and bytes are the converter's`, (t) => {
      if (!requirePython(t)) return;
      const r = report![dtype];
      assert.deepEqual(r.mismatches, []);
      assert.equal(r.tensors, 21, 'embeddings, output, final norm and 9 tensors in each of 2 blocks');
      assert.ok(r.keys >= 30, `${r.keys} metadata keys compared`);
      assert.equal(r.size_label, '97K');
      const matrix = { f32: 'F32', f16: 'F16', q8_0: 'Q8_0' }[dtype];
      if (dtype === 'q8_0') {
        assert.deepEqual(r.types, { Q8_0: 14, F16: 2, F32: 5 }, 'ffn_down (rows of 80) falls back to f16; norms stay f32');
        assert.ok(r.q8_0_blocks > 2000, `${r.q8_0_blocks} q8_0 blocks dequantized`);
        assert.ok(r.q8_0_max_err_over_d > 0.4 && r.q8_0_max_err_over_d <= 0.5 + 127 / 2048, `max |x - x̂| / d = ${r.q8_0_max_err_over_d}`);
      } else {
        assert.equal(r.types[matrix], dtype === 'f32' ? 21 : 16);
      }
    });
  }
});
