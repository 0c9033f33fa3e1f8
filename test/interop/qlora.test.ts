/**
 * The QLoRA forward of a tiny Llama (2 layers, hidden 64, GQA; an adapter with random non-zero values on every
 * linear) on ftc's 4-bit base, against PyTorch:
 *
 * - dequantize-then-f32: bitsandbytes' quantize_4bit + dequantize_4bit of every decoder linear, then transformers +
 *   peft in float32. ftc must agree within TOL on the wasm backend (the 4-bit kernels read the packed codes) and on
 *   the cpu backend (the base dequantized at load).
 * - transformers with BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type="nf4", compute dtype float32) on
 *   CPU, i.e. bitsandbytes' own Linear4bit forward, plus peft. bitsandbytes 0.50.2 runs it on CPU, with two
 *   caveats. Its CPU dequantize kernel indexes absmax per row, so it is wrong when in_features % 64 != 0 (hence
 *   ffn 128 here: every in_features a multiple of 64). And on a CPU with AVX512-BF16 its inference forward repacks
 *   the weight and multiplies at bfloat16 precision whatever the compute dtype (the ~0.2 logit gap seen before; an
 *   emulation with bf16 inputs in PyTorch is about as far from it as f32 is, so only its precision is known): with that
 *   path turned off, Linear4bit equals ftc within TOL like dequantize-then-f32; with it on (as bitsandbytes runs by
 *   default there), within BF16_TOL of the largest logit.
 *
 * TOL = 1e-4 on logits of magnitude ~10-60: f32 products summed in different orders, nothing more; the 4-bit
 * values themselves are identical (bit-exact quantizer, test/interop/bitsandbytes.test.ts).
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { LINEAR_MODULES } from '../../src/model-spec/modules.js';
import { initBackend } from '../../src/runtime/backend.js';
import { wasmKernelsInstalled } from '../../src/runtime/kernels/index.js';
import { loadCausalLM } from '../../src/runtime/model/causal-lm.js';
import { nf4KernelAvailable } from '../../src/runtime/quant/nf4-kernel.js';
import * as tf from '../../src/runtime/tf.js';
import { tempDir } from '../helpers.js';
import { CORPUS, makeTinyModel } from '../runtime/export/fixture.js';
import { requirePython, runPython } from './env.js';
import { ftcAdapter } from './fixtures.js';
import { assertLogitsClose, encodeTexts } from './logits.js';

const TOL = 1e-4;
/**
 * bitsandbytes' bf16 CPU path, against the largest logit: bfloat16 keeps 8 significant bits (2⁻⁹ relative a
 * product), compounded over two layers, attention and the adapters; 2.9% and 3.4% were seen (2026-12-02). A sanity
 * bound only: the float32 path above is the exact comparison.
 */
const BF16_TOL = 2 ** -4;

interface Result {
  bnb?: number[][];
  bnb_f32?: number[][];
  bnb_bf16_path?: boolean;
  bnb_error?: string;
  bnb_linear4bit_modules?: number;
  dequant: number[][];
  full: number[][];
}

async function logitsOn(backend: 'wasm' | 'cpu', modelDir: string, adapterDir: string, ids: number[][]): Promise<Float32Array[]> {
  await initBackend(backend);
  const model = loadCausalLM(modelDir, { adapterDir }); // the adapter's quantization_config.json makes the base 4-bit
  try {
    return ids.map((seq) => tf.tidy(() => model.forward(tf.tensor2d([seq], [1, seq.length], 'int32')).dataSync() as Float32Array));
  } finally {
    model.dispose();
  }
}

for (const doubleQuant of [true, false]) {
  test(`QLoRA forward (nf4${doubleQuant ? ', double quantization' : ''}): ftc on wasm and cpu equals PyTorch dequantize-then-f32 and bitsandbytes' Linear4bit model on CPU`, async (t) => {
    const python = requirePython(t);
    if (!python) return;
    const dir = tempDir();
    const modelDir = join(dir, 'model');
    const adapterDir = join(dir, 'adapter');
    makeTinyModel(modelDir, { ffn: 128 });
    ftcAdapter(modelDir, adapterDir, { r: 4, alpha: 8, targetModules: [...LINEAR_MODULES], bias: 'none', useRslora: false, quantization: { type: 'nf4', doubleQuant } }, 11);
    const ids = await encodeTexts(modelDir, CORPUS.slice(0, 3));
    const torch = runPython<Result>(python, 'qlora_forward.py', { model_dir: modelDir, adapter_dir: adapterDir, quant_type: 'nf4', double_quant: doubleQuant, ids });

    const wasm = await logitsOn('wasm', modelDir, adapterDir, ids);
    assert.ok(wasmKernelsInstalled() && nf4KernelAvailable(), 'the wasm run read the 4-bit weights through ftc\'s kernels');
    const cpu = await logitsOn('cpu', modelDir, adapterDir, ids);
    const worst = {
      wasm: assertLogitsClose(wasm, torch.dequant, TOL, 'wasm vs PyTorch dequantize-then-f32'),
      cpu: assertLogitsClose(cpu, torch.dequant, TOL, 'cpu vs PyTorch dequantize-then-f32'),
    };
    assert.equal(torch.bnb_error, undefined, `bitsandbytes' CPU Linear4bit path: ${torch.bnb_error}`);
    assert.equal(torch.bnb_linear4bit_modules, 2 * LINEAR_MODULES.length, 'every decoder linear, and only those, is a Linear4bit');
    const bnbF32 = assertLogitsClose(wasm, torch.bnb_f32!, TOL, "wasm vs bitsandbytes' Linear4bit, float32 path");
    const largest = Math.max(...wasm.map((a) => Math.max(...a.map(Math.abs))));
    const bnb = assertLogitsClose(wasm, torch.bnb!, torch.bnb_bf16_path ? BF16_TOL * largest : TOL, `wasm vs bitsandbytes' Linear4bit as it runs by default (bf16 path: ${torch.bnb_bf16_path})`);
    t.diagnostic(`max |Δlogit|: wasm ${worst.wasm.toExponential(2)}, cpu ${worst.cpu.toExponential(2)} vs dequantize-then-f32; wasm ${bnbF32.toExponential(2)} vs Linear4bit (f32 path), ${bnb.toExponential(2)} vs Linear4bit by default (bf16 path ${torch.bnb_bf16_path}; largest |logit| ${largest.toFixed(1)})`);
    // The 4-bit base is not the f32 base: the comparison would pass for a model that ignored quantization otherwise.
    let fromFull = 0;
    wasm.forEach((a, s) => a.forEach((v, i) => { fromFull = Math.max(fromFull, Math.abs(v - torch.full[s]![i]!)); }));
    assert.ok(fromFull > 100 * TOL, `the 4-bit base moves the logits (${fromFull} from the f32 base's)`);
  });
}
