/**
 * PEFT 0.21 loads ftc's adapters: q/v, all-linear, rsLoRA, a GQA Llama, a Qwen2 with qkv biases trained
 * with bias = all and lora_only, and the adapter `ftc run` trains. `PeftModel.from_pretrained` must report
 * no missing and no unexpected keys, PEFT would save exactly the keys ftc saved, and the logits equal
 * ftc's forward (what `ftc score` runs) within 1e-4. One Python process for the whole file.
 */
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';
import { test } from 'node:test';
import type { LoraSettings } from '../../src/runtime/model/api.js';
import { loadCausalLM } from '../../src/runtime/model/causal-lm.js';
import { loadLlamaConfig } from '../../src/model-spec/config.js';
import { LINEAR_MODULES } from '../../src/model-spec/modules.js';
import { trainedWeightNames } from '../../src/model-spec/train-modules.js';
import { hfDecays } from '../../src/runtime/train/optimizer.js';
import { runCli, tempDir } from '../helpers.js';
import { initTinyModel, tinyPipeline, writeRows } from '../tiny-project.js';
import { CORPUS, makeTinyModel } from '../runtime/export/fixture.js';
import { requirePython, runPython } from './env.js';
import { ftcAdapter, makeTinyQwen2 } from './fixtures.js';
import { assertLogitsClose, encodeTexts, ftcLogits } from './logits.js';

const TOL = 1e-4;

interface CaseResult {
  warnings: string[];
  missing: string[];
  unexpected: string[];
  saved_keys: string[];
  peft_keys: string[];
  logits: number[][];
  auto_logits?: number[][];
}

/** The tiny pipeline `ftc run` trains for two steps, run from its own directory (model path relative to it). */
function trainWithFtc(dir: string): string {
  const rows = CORPUS.flatMap((text, i) => [{ instruction: text.split('?')[0]!, input: '', output: `answer ${i}` }]);
  writeRows(dir, [...rows, ...rows, ...rows]);
  initTinyModel(dir, { ffn: 48 });
  writeFileSync(join(dir, 'p.ft'), tinyPipeline({ trainer: { max_steps: 2, lr: '5e-2' } }));
  const r = runCli(['run', 'p.ft', '--backend', 'cpu'], { cwd: dir, env: { FTC_CACHE_DIR: join(dir, 'cache') } });
  assert.equal(r.status, 0, r.stderr);
  return join(dir, 'out');
}

test('PEFT loads ftc adapters with no missing or unexpected keys; logits equal ftc\'s; AutoPeftModel works from any cwd', async (t) => {
  const python = requirePython(t);
  if (!python) return;
  const root = tempDir('ftc-interop-peft-');
  const llama = join(root, 'llama');
  makeTinyModel(llama); // GQA: 4 query heads, 2 key-value heads
  const qwen = join(root, 'qwen2');
  makeTinyQwen2(qwen);
  const ids = await encodeTexts(llama, CORPUS.slice(0, 3));

  const cases: Array<{ name: string; model: string; lora: Omit<LoraSettings, 'seed' | 'dropout'> }> = [
    { name: 'llama q/v', model: llama, lora: { r: 4, alpha: 8, targetModules: ['q_proj', 'v_proj'], bias: 'none', useRslora: false } },
    { name: 'llama all-linear', model: llama, lora: { r: 2, alpha: 16, targetModules: [...LINEAR_MODULES], bias: 'none', useRslora: false } },
    { name: 'llama rslora', model: llama, lora: { r: 4, alpha: 8, targetModules: ['q_proj', 'o_proj', 'down_proj'], bias: 'none', useRslora: true } },
    { name: 'qwen2 bias=all', model: qwen, lora: { r: 4, alpha: 8, targetModules: ['q_proj', 'v_proj'], bias: 'all', useRslora: false } },
    { name: 'qwen2 bias=lora_only', model: qwen, lora: { r: 4, alpha: 8, targetModules: ['q_proj', 'k_proj', 'up_proj'], bias: 'lora_only', useRslora: false } },
    { name: 'qwen2 all-linear', model: qwen, lora: { r: 2, alpha: 4, targetModules: [...LINEAR_MODULES], bias: 'none', useRslora: false } },
  ];
  const adapters = cases.map((c, i) => {
    const dir = join(root, `adapter-${i}`);
    ftcAdapter(c.model, dir, c.lora, 10 + i);
    return dir;
  });
  const trainRoot = join(root, 'run');
  mkdirSync(trainRoot);
  const trained = trainWithFtc(trainRoot);
  const trainedCfg = JSON.parse(readFileSync(join(trained, 'adapter_config.json'), 'utf8')) as { base_model_name_or_path: string };
  assert.ok(isAbsolute(trainedCfg.base_model_name_or_path), `base_model_name_or_path ${trainedCfg.base_model_name_or_path} is absolute`);
  const trainedIds = await encodeTexts(join(trainRoot, 'model'), CORPUS.slice(0, 2));
  const elsewhere = tempDir('ftc-interop-cwd-');

  const decayLora = { r: 4, lora_alpha: 8, target_modules: ['q_proj', 'v_proj'], bias: 'all' };
  const out = runPython<{ cases: Record<string, CaseResult>; decay: { full: [string, boolean][]; lora: [string, boolean][] } }>(python, 'peft_load.py', {
    cases: [
      ...cases.map((c, i) => ({ name: c.name, model_dir: c.model, adapter_dir: adapters[i], ids })),
      { name: 'ftc run', model_dir: join(trainRoot, 'model'), adapter_dir: trained, ids: trainedIds, other_cwd: elsewhere },
    ],
    decay: { model_dir: qwen, lora: decayLora },
  });

  const check = async (name: string, modelDir: string, adapterDir: string, seqs: number[][], minScale?: number) => {
    const r = out.cases[name]!;
    assert.deepEqual(r.warnings, [], `${name}: PEFT warned`);
    assert.deepEqual({ missing: r.missing, unexpected: r.unexpected }, { missing: [], unexpected: [] }, name);
    assert.deepEqual(r.saved_keys, r.peft_keys, `${name}: PEFT would save exactly the keys ftc saved`);
    const ftc = await ftcLogits(modelDir, seqs, adapterDir);
    assertLogitsClose(ftc, r.logits, TOL, name, minScale);
    return { r, ftc };
  };
  for (const [i, c] of cases.entries()) await check(c.name, c.model, adapters[i]!, ids);
  // The bias cases really carry trained biases, under PEFT's names.
  assert.ok(out.cases['qwen2 bias=all']!.saved_keys.includes('base_model.model.model.layers.0.self_attn.q_proj.base_layer.bias'));
  assert.ok(out.cases['qwen2 bias=all']!.saved_keys.includes('base_model.model.model.layers.0.self_attn.k_proj.bias'));
  assert.equal(out.cases['qwen2 bias=lora_only']!.saved_keys.filter((k) => k.endsWith('bias')).length, 4); // q, k × 2 layers (up_proj has none)

  // init-model's weights (std 0.02) give small logits; the trained adapter must still move them far more than TOL.
  const { ftc } = await check('ftc run', join(trainRoot, 'model'), trained, trainedIds, 0.1);
  assertLogitsClose(ftc, out.cases['ftc run']!.auto_logits!, TOL, 'AutoPeftModelForCausalLM from another directory', 0.1);
  const untrained = await ftcLogits(join(trainRoot, 'model'), trainedIds);
  const moved = Math.max(...ftc.flatMap((a, s) => Array.from(a, (v, i) => Math.abs(v - untrained[s]![i]!))));
  assert.ok(moved > 100 * TOL, `the trained adapter moves the logits by ${moved}`);

  // ftc trains what PEFT trains (bias = all: the adapter matrices and every bias) and decays what HF Trainer decays.
  const peftToFtc = (n: string) => n.replace('.default.weight', '.weight').replace('.base_layer.bias', '.bias');
  const ftcModel = loadCausalLM(qwen, { lora: { r: 4, alpha: 8, targetModules: ['q_proj', 'v_proj'], bias: 'all', useRslora: false, dropout: 0, seed: 0 } });
  const ftcParams = [...ftcModel.adapterParams().keys()].sort();
  ftcModel.dispose();
  assert.deepEqual(out.decay.lora.map(([n]) => peftToFtc(n)).sort(), ftcParams);
  for (const [n, decays] of out.decay.lora) assert.equal(hfDecays(peftToFtc(n)), decays, `weight decay of ${n}`);
  assert.ok(out.decay.lora.some(([, d]) => d) && out.decay.lora.some(([, d]) => !d));
  for (const [n, decays] of out.decay.full) assert.equal(hfDecays(n), decays, `weight decay of ${n} (full fine-tuning)`);
  // Full fine-tuning trains exactly the model's parameters as transformers lists them (a tied lm_head once).
  assert.deepEqual(out.decay.full.map(([n]) => n).sort(), trainedWeightNames(loadLlamaConfig(qwen)).sort());
});
