/**
 * DoRA and modules_to_save against PEFT 0.21: PEFT loads ftc's adapters (DoRA on a GQA Llama and on a Qwen2 with
 * trained qkv biases, modules_to_save = [embed_tokens, lm_head], DoRA + lm_head) with no
 * missing or unexpected keys, would save exactly ftc's keys, and gives ftc's logits within 1e-4; ftc loads
 * adapters PEFT saved with the logits PEFT computes, and ftc's merge equals PEFT's merge_and_unload weights.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import type { HostTensor, LoraSettings } from '../../src/runtime/model/api.js';
import { loadCausalLM } from '../../src/runtime/model/causal-lm.js';
import { loadLlamaConfig } from '../../src/model-spec/config.js';
import { xoshiro128 } from '../../src/runtime/model/init.js';
import { LINEAR_MODULES } from '../../src/model-spec/modules.js';
import { loadAdapter, parseSavedModuleKey, saveAdapter } from '../../src/runtime/model/peft.js';
import { readSafetensors } from '../../src/runtime/model/safetensors.js';
import { loadWeights } from '../../src/runtime/model/weights.js';
import { mergeAdapter } from '../../src/runtime/export/merge.js';
import { tempDir } from '../helpers.js';
import { CORPUS, makeTinyModel } from '../runtime/export/fixture.js';
import { requirePython, runPython } from './env.js';
import { makeTinyQwen2 } from './fixtures.js';
import { assertLogitsClose, encodeTexts, ftcLogits } from './logits.js';

const TOL = 1e-4;

/**
 * An adapter as ftc's trainer saves it: A and B random, each DoRA magnitude moved off its initial ‖W‖ row norms,
 * modules_to_save weights perturbed.
 */
function ftcDoraAdapter(modelDir: string, dir: string, lora: Omit<LoraSettings, 'seed' | 'dropout'>, seed: number): void {
  const settings: LoraSettings = { useDora: true, ...lora, dropout: 0, seed };
  const model = loadCausalLM(modelDir, { lora: settings });
  const rnd = xoshiro128(seed);
  const params = new Map<string, HostTensor>();
  for (const [k, t] of model.exportAdapter()) {
    const magnitude = k.endsWith('.lora_magnitude_vector');
    const whole = parseSavedModuleKey(k) !== undefined;
    params.set(k, { shape: t.shape, data: t.data.map((v) => (magnitude ? v * (0.5 + rnd()) : whole ? v + (2 * rnd() - 1) * 0.1 : (2 * rnd() - 1) * 0.2)) });
  }
  model.dispose();
  saveAdapter(dir, params, { ...settings, baseModel: modelDir });
}

interface LoadResult { warnings: string[]; missing: string[]; unexpected: string[]; saved_keys: string[]; peft_keys: string[]; logits: number[][] }

test('PEFT loads ftc\'s DoRA and modules_to_save adapters and ftc loads and merges PEFT\'s, with equal logits and merged weights', async (t) => {
  const python = requirePython(t);
  if (!python) return;
  const root = tempDir('ftc-interop-dora-');
  const llama = join(root, 'llama');
  makeTinyModel(llama);
  const qwen = join(root, 'qwen2');
  makeTinyQwen2(qwen);
  const ids = await encodeTexts(llama, CORPUS.slice(0, 3));

  const ours = [
    { name: 'llama q/v', model: llama, lora: { r: 4, alpha: 8, targetModules: ['q_proj', 'v_proj'], bias: 'none' as const, useRslora: false } },
    { name: 'qwen2 all-linear bias=all', model: qwen, lora: { r: 2, alpha: 4, targetModules: [...LINEAR_MODULES], bias: 'all' as const, useRslora: false } },
    { name: 'qwen2 modules_to_save', model: qwen, lora: { r: 2, alpha: 4, targetModules: ['q_proj', 'v_proj'], bias: 'none' as const, useRslora: false, useDora: false, modulesToSave: ['embed_tokens', 'lm_head'] } },
    { name: 'qwen2 DoRA + lm_head', model: qwen, lora: { r: 2, alpha: 4, targetModules: ['v_proj', 'o_proj'], bias: 'none' as const, useRslora: false, modulesToSave: ['lm_head'] } },
  ];
  const ourDirs = ours.map((c, i) => {
    const dir = join(root, `ftc-${i}`);
    ftcDoraAdapter(c.model, dir, c.lora, 20 + i);
    return dir;
  });
  const theirs = [
    { name: 'peft llama q/k/down', model: llama, lora: { r: 4, lora_alpha: 8, target_modules: ['q_proj', 'k_proj', 'down_proj'], use_dora: true } },
    { name: 'peft qwen2 rslora', model: qwen, lora: { r: 2, lora_alpha: 4, target_modules: ['q_proj', 'v_proj', 'up_proj'], use_dora: true, use_rslora: true } },
    { name: 'peft qwen2 modules_to_save', model: qwen, lora: { r: 2, lora_alpha: 4, target_modules: ['q_proj'], modules_to_save: ['embed_tokens', 'lm_head'] } },
  ];
  const theirDirs = theirs.map((_, i) => join(root, `peft-${i}`));

  const loaded = runPython<{ cases: Record<string, LoadResult> }>(python, 'peft_load.py', {
    cases: ours.map((c, i) => ({ name: c.name, model_dir: c.model, adapter_dir: ourDirs[i], ids })),
  });
  const saved = runPython<{ cases: Record<string, { logits: number[][] }> }>(python, 'peft_save.py', {
    cases: theirs.map((c, i) => ({ name: c.name, model_dir: c.model, adapter_dir: theirDirs[i], merged_file: join(root, `merged-${i}.safetensors`), lora: c.lora, seed: 30 + i, ids })),
  });

  for (const [i, c] of ours.entries()) {
    const r = loaded.cases[c.name]!;
    assert.deepEqual(r.warnings, [], `${c.name}: PEFT warned`);
    assert.deepEqual({ missing: r.missing, unexpected: r.unexpected }, { missing: [], unexpected: [] }, c.name);
    assert.deepEqual(r.saved_keys, r.peft_keys, `${c.name}: PEFT would save exactly the keys ftc saved`);
    const cfg = JSON.parse(readFileSync(join(ourDirs[i]!, 'adapter_config.json'), 'utf8')) as { use_dora: boolean; modules_to_save: string[] | null };
    assert.equal(cfg.use_dora, c.lora.useDora !== false, c.name);
    if (cfg.use_dora) assert.ok(r.saved_keys.includes(`base_model.model.model.layers.0.self_attn.v_proj.lora_magnitude_vector`), `${c.name}: the magnitude is saved`);
    assert.deepEqual(cfg.modules_to_save, c.lora.modulesToSave ?? null, c.name);
    for (const m of c.lora.modulesToSave ?? []) assert.ok(r.saved_keys.includes(m === 'lm_head' ? 'base_model.model.lm_head.weight' : 'base_model.model.model.embed_tokens.weight'), `${c.name}: ${m} saved`);
    assertLogitsClose(await ftcLogits(c.model, ids, ourDirs[i]), r.logits, TOL, c.name);
  }
  // The DoRA rescaling must show: the same A and B without their magnitudes give other logits.
  const plainDir = join(root, 'plain');
  const { config: dcfg, tensors } = loadAdapter(ourDirs[0]!);
  saveAdapter(plainDir, new Map([...tensors].filter(([k]) => !k.endsWith('.lora_magnitude_vector'))), { ...dcfg, useDora: false });
  const plain = await ftcLogits(llama, ids, plainDir);
  const dora = await ftcLogits(llama, ids, ourDirs[0]);
  assert.ok(plain.some((a, s) => a.some((v, j) => Math.abs(v - dora[s]![j]!) > 100 * TOL)), 'the magnitudes change the logits');

  for (const [i, c] of theirs.entries()) {
    const adapter = loadAdapter(theirDirs[i]!, loadLlamaConfig(c.model));
    assert.equal(adapter.config.useDora, c.lora.use_dora, c.name);
    assert.deepEqual(adapter.config.modulesToSave, c.lora.modules_to_save, c.name);
    assertLogitsClose(await ftcLogits(c.model, ids, theirDirs[i]), saved.cases[c.name]!.logits, TOL, `${c.name}: ftc loads PEFT's adapter`);
    const { weights, merged } = mergeAdapter(loadWeights(c.model, loadLlamaConfig(c.model)), adapter);
    assert.equal(merged, 2 * c.lora.target_modules.length, c.name);
    const peftMerged = readSafetensors(join(root, `merged-${i}.safetensors`));
    let worst = 0;
    for (const [k, w] of peftMerged) {
      const ftc = weights.get(k)!;
      assert.deepEqual(ftc.shape, w.shape, k);
      for (let j = 0; j < w.data.length; j++) worst = Math.max(worst, Math.abs(ftc.data[j]! - w.data[j]!));
    }
    assert.ok(worst <= 1e-5, `${c.name}: max |ftc merge − merge_and_unload| = ${worst}`);
  }
});
