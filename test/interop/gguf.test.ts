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
 * The models: the export fixture's tiny GQA Llama (4 query / 2 key-value heads, so k is permuted with the kv head
 * count; FFN 80, so down_proj falls back to f16 under q8_0), with a non-default rope base and two added tokens
 * that are not marked special (one looks special, one is SentencePiece-style user-defined); and the same model
 * as a Qwen2 (architecture qwen2: random q/k/v biases, no permutation, fewer llama.cpp keys).
 */
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { exportModel } from '../../src/runtime/export/export-model.js';
import type { HostTensor } from '../../src/runtime/model/api.js';
import { type LlamaConfig, loadLlamaConfig } from '../../src/model-spec/config.js';
import { xoshiro128 } from '../../src/runtime/model/init.js';
import { writeSafetensors } from '../../src/runtime/model/safetensors.js';
import { loadWeights } from '../../src/runtime/model/weights.js';
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
type ModelReport = { arch: string; tokenizer_path: string } & Record<'f32' | 'f16' | 'q8_0', FileReport>;

const DTYPES = ['f32', 'f16', 'q8_0'] as const;

/** Rewrites config.json with `patch`. */
function patchConfig(dir: string, patch: Record<string, unknown>): void {
  const file = join(dir, 'config.json');
  writeFileSync(file, JSON.stringify({ ...JSON.parse(readFileSync(file, 'utf8')), ...patch }, null, 2));
}

/** The fixture's Llama turned into a Qwen2: its config, plus random q/k/v biases (Qwen2 always has them). */
function makeQwen2(dir: string): LlamaConfig {
  const weights = loadWeights(dir, loadLlamaConfig(dir));
  patchConfig(dir, { architectures: ['Qwen2ForCausalLM'], model_type: 'qwen2', rope_theta: 1000000 });
  const config = loadLlamaConfig(dir);
  const rnd = xoshiro128(5);
  const out = new Map<string, HostTensor & { dtype: 'F32' }>();
  for (const [name, t] of weights) out.set(name, { ...t, dtype: 'F32' });
  for (let i = 0; i < config.numHiddenLayers; i++) {
    for (const [m, heads] of [['q_proj', config.numAttentionHeads], ['k_proj', config.numKeyValueHeads], ['v_proj', config.numKeyValueHeads]] as const) {
      const n = heads * config.headDim;
      out.set(`model.layers.${i}.self_attn.${m}.bias`, { shape: [n], data: Float32Array.from({ length: n }, () => rnd() - 0.5), dtype: 'F32' });
    }
  }
  writeSafetensors(join(dir, 'model.safetensors'), out, { format: 'pt' });
  return config;
}

/** Writes the model, adapter, the three GGUF exports and the merged f32 export; returns what gguf_read.py needs. */
function exportAll(arch: 'llama' | 'qwen2'): { files: Record<string, string>; base: string; merged: string } {
  const root = tempDir(`ftc-gguf-py-${arch}-`);
  const base = join(root, 'base');
  const adapter = join(root, 'adapter');
  let config = makeTinyModel(base);
  if (arch === 'qwen2') config = makeQwen2(base);
  else patchConfig(base, { rope_theta: 500000 });
  makeRandomAdapter(adapter, config);
  const tokFile = join(base, 'tokenizer.json');
  const tok = JSON.parse(readFileSync(tokFile, 'utf8'));
  // Next to the last id in use, as transformers itself numbers added tokens; the fixture's vocabulary ends well below vocab_size.
  const free = Math.max(...Object.values(tok.model.vocab as Record<string, number>)) + 1;
  assert.ok(free + 2 < config.vocabSize);
  const added = [
    { id: free, content: '<|user|>', single_word: false, lstrip: false, rstrip: false, normalized: false, special: false },
    { id: free + 1, content: 'ftc\u2581word', single_word: false, lstrip: false, rstrip: false, normalized: true, special: false },
  ];
  tok.added_tokens.push(...added);
  writeFileSync(tokFile, JSON.stringify(tok));
  // Listed in tokenizer_config.json too, as save_pretrained writes them: transformers' Qwen2 tokenizer class
  // rebuilds itself from vocab + merges and keeps only the added tokens named there.
  const tokCfgFile = join(base, 'tokenizer_config.json');
  const tokCfg = JSON.parse(readFileSync(tokCfgFile, 'utf8'));
  for (const { id, ...a } of added) tokCfg.added_tokens_decoder[String(id)] = a;
  writeFileSync(tokCfgFile, JSON.stringify(tokCfg, null, 2));

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

const ARCHS = ['llama', 'qwen2'] as const;

describe('GGUF export read by gguf-py, against what llama.cpp\'s converter writes', () => {
  let reports: ModelReport[] | undefined;
  before(() => {
    const env = interopPython();
    if ('python' in env) reports = runPython<{ models: ModelReport[] }>(env.python, 'gguf_read.py', { models: ARCHS.map(exportAll) }).models;
  });

  ARCHS.forEach((arch, i) => {
    // Qwen2 adds 3 biases per block; biases, like norms, stay f32.
    const biases = arch === 'qwen2' ? 6 : 0;
    it(`${arch}: the converter would take the GPT-2 BPE tokenizer path for this tokenizer.json (gguf-py's LlamaHfVocab refuses it)`, (t) => {
      if (!requirePython(t)) return;
      assert.equal(reports![i]!.arch, arch);
      assert.equal(reports![i]!.tokenizer_path, 'gpt2');
    });

    for (const dtype of DTYPES) {
      it(`${arch} ${dtype}: GGUFReader opens it; metadata keys, values and types and every tensor's name, type, shape and bytes are the converter's`, (t) => {
        if (!requirePython(t)) return;
        const r = reports![i]![dtype];
        assert.deepEqual(r.mismatches, []);
        assert.equal(r.tensors, 21 + biases, 'embeddings, output, final norm and 9 tensors in each of 2 blocks (+ biases)');
        assert.ok(r.keys >= 28, `${r.keys} metadata keys compared`);
        assert.equal(r.size_label, '97K');
        if (dtype === 'q8_0') {
          assert.deepEqual(r.types, { Q8_0: 14, F16: 2, F32: 5 + biases }, 'ffn_down (rows of 80) falls back to f16; norms stay f32');
          assert.ok(r.q8_0_blocks > 2000, `${r.q8_0_blocks} q8_0 blocks dequantized`);
          assert.ok(r.q8_0_max_err_over_d > 0.4 && r.q8_0_max_err_over_d <= 0.5 + 127 / 2048, `max |x - x̂| / d = ${r.q8_0_max_err_over_d}`);
        } else if (dtype === 'f16') {
          assert.deepEqual(r.types, { F16: 16, F32: 5 + biases });
        } else {
          assert.deepEqual(r.types, { F32: 21 + biases });
        }
      });
    }
  });
});
