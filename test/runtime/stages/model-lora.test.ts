import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { isFtcError } from '../../../src/errors.js';
import { initModel } from '../../../src/runtime/model/init.js';
import type { Artifact, StageContext, StageLogger } from '../../../src/runtime/stage.js';
import { LORA_SETTINGS, loraStage, type LoraArtifact } from '../../../src/runtime/stages/lora.js';
import { MODEL_MANIFEST, modelStage, type ModelManifest } from '../../../src/runtime/stages/model.js';
import { tempDir } from '../../helpers.js';
import { readSafetensors } from '../../../src/runtime/model/safetensors.js';
import { readQuantizedBase } from '../../../src/runtime/quant/base-4bit.js';
import { dequantize4bit, quantize4bit } from '../../../src/runtime/quant/quantize4bit.js';

const quiet: StageLogger = { info() {}, warn() {}, progress: () => ({ update() {}, done() {} }) };

function ctx(dir: string, kind: 'model' | 'lora', params: Record<string, unknown>, inputs: Record<string, Artifact> = {}): StageContext {
  return {
    stage: { name: kind === 'model' ? 'base' : 'adapter', kind, key: 'k', inputs: Object.keys(inputs), params: params as never, version: 1, fileHashes: {}, upstreamKeys: {} },
    pipeline: { file: join(dir, 'p.ft'), dir, name: 'p', seed: 9, settings: {} },
    inputs,
    outDir: tempDir(),
    log: quiet,
    options: {},
  };
}

// layers 2, hidden 16, 2 heads of 8, 1 kv head, ffn 24, vocab 260.
function tinyModel(): string {
  const dir = tempDir();
  initModel(join(dir, 'm'), { layers: 2, hidden: 16, heads: 2, kvHeads: 1, ffn: 24, vocab: 260, maxPositions: 32, seed: 0, dtype: 'f32', corpus: ['hello world, hello model'] });
  return dir;
}

test('model stage: a manifest of the checked model, no copy of the weights', async () => {
  const dir = tinyModel();
  const c = ctx(dir, 'model', { path: 'm' });
  const summary = await modelStage.run(c);
  const m = JSON.parse(readFileSync(join(c.outDir, MODEL_MANIFEST), 'utf8')) as ModelManifest;
  assert.equal(m.path, 'm');
  assert.deepEqual([m.vocab_size, m.hidden_size, m.num_hidden_layers, m.num_key_value_heads], [260, 16, 2, 1]);
  // embed 260·16 + per layer (2 norms 16 + q 16·16 + k,v 8·16 each + o 16·16 + 3·16·24) + norm 16 + lm_head 260·16
  const perLayer = 2 * 16 + 256 + 2 * 128 + 256 + 3 * 384;
  assert.equal(summary.parameters, 260 * 16 * 2 + 2 * perLayer + 16);
});

test('model stage: weights that do not match config.json are a clear error naming the tensor', async () => {
  const dir = tinyModel();
  const cfgFile = join(dir, 'm', 'config.json');
  writeFileSync(cfgFile, JSON.stringify({ ...JSON.parse(readFileSync(cfgFile, 'utf8')), intermediate_size: 30 }));
  await assert.rejects(modelStage.run(ctx(dir, 'model', { path: 'm' })), (e: unknown) =>
    isFtcError(e) && e.code === 'E_MODEL_WEIGHTS_MISMATCH' && /model\.layers\.0\.mlp\.gate_proj\.weight: expected \[30,16\], found \[24,16\]/.test(e.message));
  await assert.rejects(modelStage.run(ctx(dir, 'model', { path: 'nope' })), (e: unknown) => isFtcError(e) && e.code === 'E_MODEL_DIR');
});

test('lora stage: all-linear expands to the seven linear layers; settings and trainable count are recorded', async () => {
  const dir = tinyModel();
  const mc = ctx(dir, 'model', { path: 'm' });
  await modelStage.run(mc);
  const modelArtifact: Artifact = { stage: 'base', kind: 'model', key: 'k', dir: mc.outDir, summary: {} };
  const params = { model: 'base', r: 2, alpha: 4, target_modules: 'all-linear', dropout: 0.1, bias: 'none', use_rslora: true };
  const c = ctx(dir, 'lora', params, { base: modelArtifact });
  const summary = await loraStage.run(c);
  const a = JSON.parse(readFileSync(join(c.outDir, LORA_SETTINGS), 'utf8')) as LoraArtifact;
  assert.deepEqual(a.settings.targetModules, ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj']);
  assert.equal(a.settings.seed, 9, 'the pipeline seed is inherited');
  assert.equal(a.settings.useRslora, true);
  // r·(in+out) per module: q 16+16, k 16+8, v 16+8, o 16+16, gate 16+24, up 16+24, down 24+16 → 232, ×r 2 ×2 layers.
  assert.equal(summary.trainable_parameters, 232 * 2 * 2);
  assert.equal(a.model.path, 'm');
});

test('lora stage: use_dora and modules_to_save are recorded and their parameters counted', async () => {
  const dir = tinyModel();
  const mc = ctx(dir, 'model', { path: 'm' });
  await modelStage.run(mc);
  const base: Artifact = { stage: 'base', kind: 'model', key: 'k', dir: mc.outDir, summary: {} };
  const params = { model: 'base', r: 2, alpha: 4, target_modules: ['q_proj', 'v_proj'], dropout: 0, bias: 'none', use_rslora: false, use_dora: true, modules_to_save: ['lm_head'] };
  const c = ctx(dir, 'lora', params, { base });
  const summary = await loraStage.run(c);
  const a = JSON.parse(readFileSync(join(c.outDir, LORA_SETTINGS), 'utf8')) as LoraArtifact;
  assert.equal(a.settings.useDora, true);
  assert.deepEqual(a.settings.modulesToSave, ['lm_head']);
  // Per layer r·(in+out) = 2·(16+16 + 16+8) plus one magnitude per output row (16 + 8), ×2 layers; lm_head [260, 16] whole.
  assert.equal(summary.trainable_parameters, (2 * (32 + 24) + 24) * 2 + 260 * 16);
});

test('lora stage: an unknown target module is an error listing the model\'s modules', async () => {
  const dir = tinyModel();
  const mc = ctx(dir, 'model', { path: 'm' });
  await modelStage.run(mc);
  const base: Artifact = { stage: 'base', kind: 'model', key: 'k', dir: mc.outDir, summary: {} };
  const params = { model: 'base', r: 2, alpha: 4, target_modules: ['q_proj', 'qkv_proj'], dropout: 0, bias: 'none', use_rslora: false };
  await assert.rejects(loraStage.run(ctx(dir, 'lora', params, { base })), (e: unknown) =>
    isFtcError(e) && e.code === 'E0307' && /qkv_proj/.test(e.message) && /q_proj, k_proj, v_proj, o_proj, gate_proj, up_proj, down_proj/.test(e.hint ?? ''));
});

test('lora stage: quantization = nf4 quantizes every decoder linear once into the artifact, exactly as quantize4bit does; embeddings, norms and lm_head stay out', async () => {
  const dir = tinyModel();
  const mc = ctx(dir, 'model', { path: 'm' });
  await modelStage.run(mc);
  const base: Artifact = { stage: 'base', kind: 'model', key: 'k', dir: mc.outDir, summary: {} };
  const params = { model: 'base', r: 2, alpha: 4, target_modules: ['q_proj'], dropout: 0, bias: 'none', use_rslora: false, quantization: 'nf4', double_quant: true, compute_dtype: 'bf16' };
  const c = ctx(dir, 'lora', params, { base });
  await loraStage.run(c);
  const artifact = JSON.parse(readFileSync(join(c.outDir, LORA_SETTINGS), 'utf8')) as LoraArtifact;
  assert.deepEqual(artifact.settings.quantization, { type: 'nf4', doubleQuant: true });
  assert.equal(artifact.compute_dtype, 'bf16');
  const quantized = readQuantizedBase(join(c.outDir, artifact.quantized_base!));
  const host = readSafetensors(join(dir, 'm', 'model.safetensors'));
  const linears = [...host.keys()].filter((n) => /_proj\.weight$/.test(n)).sort();
  assert.equal(linears.length, 14);
  assert.deepEqual([...quantized.keys()].sort(), linears);
  for (const name of linears) {
    const w = host.get(name)!;
    const want = quantize4bit(w.data, w.shape, { type: 'nf4', doubleQuant: true });
    const got = quantized.get(name)!;
    assert.deepEqual(got.packed, want.packed, name);
    assert.deepEqual(got.nested!.codes, want.nested!.codes, name);
    assert.deepEqual(got.nested!.absmax2, want.nested!.absmax2, name);
    assert.equal(got.nested!.offset, want.nested!.offset, name);
    assert.deepEqual(dequantize4bit(got), dequantize4bit(want), name);
  }
});

test('lora stage: a quantization the embedded runtime does not train is refused', async () => {
  const dir = tinyModel();
  const mc = ctx(dir, 'model', { path: 'm' });
  await modelStage.run(mc);
  const base: Artifact = { stage: 'base', kind: 'model', key: 'k', dir: mc.outDir, summary: {} };
  const params = { model: 'base', r: 2, alpha: 4, target_modules: ['q_proj'], dropout: 0, bias: 'none', use_rslora: false, quantization: 'int8' };
  await assert.rejects(loraStage.run(ctx(dir, 'lora', params, { base })), (e: unknown) =>
    isFtcError(e) && e.code === 'E_LORA_QUANTIZATION' && /--target accelerate/.test(e.hint ?? ''));
});
