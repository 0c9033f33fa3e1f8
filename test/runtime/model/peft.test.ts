import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { FtcError } from '../../../src/errors.js';
import type { HostTensor } from '../../../src/runtime/model/api.js';
import { parseLlamaConfig } from '../../../src/model-spec/config.js';
import { moduleDims, moduleParent } from '../../../src/model-spec/modules.js';
import { type AdapterConfig, loadAdapter, parsePeftKey, peftKey, saveAdapter } from '../../../src/runtime/model/peft.js';
import { readSafetensorsHeader, writeSafetensors } from '../../../src/runtime/model/safetensors.js';
import { tempDir } from '../../helpers.js';

// hidden 8, 2 heads x 4, 1 kv head (k/v out 4), ffn 12, 2 layers.
const MODEL = parseLlamaConfig({ architectures: ['LlamaForCausalLM'], vocab_size: 10, hidden_size: 8, num_attention_heads: 2,
  num_key_value_heads: 1, intermediate_size: 12, num_hidden_layers: 2, max_position_embeddings: 16 }, 'config.json');

const CONFIG: AdapterConfig = { r: 2, alpha: 32, dropout: 0.1, targetModules: ['q_proj', 'v_proj', 'down_proj'], bias: 'none', useRslora: false, baseModel: 'models/tiny-llama' };

const seq = (n: number, start = 0) => Float32Array.from({ length: n }, (_, i) => start + i / 10);

/** Adapter parameters as the model names them in memory (PEFT's `.default.` adapter name included). */
function params(): Map<string, HostTensor> {
  const m = new Map<string, HostTensor>();
  for (const layer of [0, 1]) {
    for (const [mod, parent, inF, outF] of [['q_proj', 'self_attn', 8, 8], ['v_proj', 'self_attn', 8, 4], ['down_proj', 'mlp', 12, 8]] as const) {
      m.set(`base_model.model.model.layers.${layer}.${parent}.${mod}.lora_A.default.weight`, { shape: [2, inF], data: seq(2 * inF, layer) });
      m.set(`base_model.model.model.layers.${layer}.${parent}.${mod}.lora_B.default.weight`, { shape: [outF, 2], data: seq(2 * outF, -layer) });
    }
  }
  return m;
}

function rejects(dir: string, code: string, pattern: RegExp, model = MODEL): void {
  assert.throws(() => loadAdapter(dir, model), (e: unknown) => {
    assert.ok(e instanceof FtcError, String(e));
    assert.equal(e.code, code);
    assert.match(e.message, pattern);
    return true;
  });
}

describe('PEFT module names', () => {
  it('places attention projections under self_attn and MLP ones under mlp', () => {
    assert.equal(peftKey(0, 'q_proj', 'lora_A'), 'base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight');
    assert.equal(peftKey(3, 'gate_proj', 'lora_B'), 'base_model.model.model.layers.3.mlp.gate_proj.lora_B.weight');
    assert.equal(moduleParent('o_proj'), 'self_attn');
    assert.equal(moduleParent('up_proj'), 'mlp');
    assert.equal(moduleParent('lm_head'), undefined);
    assert.deepEqual(parsePeftKey('base_model.model.model.layers.12.mlp.down_proj.lora_B.default.weight'), { layer: 12, module: 'down_proj', part: 'lora_B', onBaseLayer: false });
    assert.equal(parsePeftKey('base_model.model.model.layers.0.mlp.q_proj.lora_A.weight'), undefined); // wrong parent
    assert.deepEqual(moduleDims(MODEL, 'k_proj'), { in: 8, out: 4 });
    assert.deepEqual(moduleDims(MODEL, 'down_proj'), { in: 12, out: 8 });
  });
});

describe('saveAdapter / loadAdapter', () => {
  it('writes adapter_config.json with the fields PEFT writes, sorted', () => {
    const dir = tempDir();
    saveAdapter(dir, params(), CONFIG);
    const text = readFileSync(join(dir, 'adapter_config.json'), 'utf8');
    const json = JSON.parse(text);
    assert.deepEqual(Object.keys(json), [...Object.keys(json)].sort());
    assert.equal(json.peft_type, 'LORA');
    assert.equal(json.task_type, 'CAUSAL_LM');
    assert.equal(json.r, 2);
    assert.equal(json.lora_alpha, 32);
    assert.equal(json.lora_dropout, 0.1);
    assert.deepEqual(json.target_modules, ['q_proj', 'v_proj', 'down_proj']);
    assert.equal(json.bias, 'none');
    assert.equal(json.use_rslora, false);
    assert.equal(json.base_model_name_or_path, 'models/tiny-llama');
    assert.equal(json.inference_mode, true);
    assert.equal(json.fan_in_fan_out, false);
    assert.equal(json.init_lora_weights, true);
    assert.equal(json.modules_to_save, null);
    assert.equal(json.use_dora, false);
    assert.deepEqual(json.rank_pattern, {});
    assert.match(text, /^\{\n {2}"alpha_pattern": \{\},\n/); // json.dumps(indent=2, sort_keys=True)
  });

  it('saves PEFT key names without the adapter name and reloads the same values', () => {
    const dir = tempDir();
    const p = params();
    saveAdapter(dir, p, CONFIG);
    const header = readSafetensorsHeader(join(dir, 'adapter_model.safetensors'));
    assert.deepEqual(header.metadata, { format: 'pt' });
    assert.deepEqual(header.tensors.get('base_model.model.model.layers.1.mlp.down_proj.lora_A.weight')?.shape, [2, 12]);
    assert.deepEqual(header.tensors.get('base_model.model.model.layers.0.self_attn.v_proj.lora_B.weight')?.shape, [4, 2]);
    assert.equal(header.tensors.size, 12);
    const { config, tensors } = loadAdapter(dir, MODEL);
    assert.deepEqual(config, CONFIG);
    const key = 'base_model.model.model.layers.1.self_attn.q_proj.lora_B.weight';
    assert.deepEqual([...tensors.get(key)!.data], [...p.get(key.replace('lora_B.', 'lora_B.default.'))!.data]);
  });

  it('expands all-linear and keeps rsLoRA and bias settings', () => {
    const dir = tempDir();
    saveAdapter(dir, params(), { ...CONFIG, useRslora: true, bias: 'lora_only' });
    const cfgFile = join(dir, 'adapter_config.json');
    writeFileSync(cfgFile, readFileSync(cfgFile, 'utf8').replace(/"target_modules": \[[^\]]*\]/, '"target_modules": "all-linear"'));
    const { config } = loadAdapter(dir);
    assert.deepEqual(config.targetModules, ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj']);
    assert.equal(config.useRslora, true);
    assert.equal(config.bias, 'lora_only');
  });

  it('saves trained biases where PEFT keeps them: base_layer.bias on adapted modules, the plain name elsewhere', () => {
    const dir = tempDir();
    const withBias = params();
    const bias = (mod: string, parent: string, n: number) => [`base_model.model.model.layers.0.${parent}.${mod}.bias`, { shape: [n], data: seq(n, 5) }] as [string, HostTensor];
    for (const [k, t] of [bias('q_proj', 'self_attn', 8), bias('k_proj', 'self_attn', 4)]) withBias.set(k, t);
    saveAdapter(dir, withBias, { ...CONFIG, bias: 'all' });
    const saved = [...readSafetensorsHeader(join(dir, 'adapter_model.safetensors')).tensors.keys()].filter((k) => k.endsWith('bias')).sort();
    assert.deepEqual(saved, ['base_model.model.model.layers.0.self_attn.k_proj.bias', 'base_model.model.model.layers.0.self_attn.q_proj.base_layer.bias']);
    // Loaded back under ftc's names, so the model's parameters take them as they are.
    const { tensors } = loadAdapter(dir, MODEL);
    assert.deepEqual([...tensors.get('base_model.model.model.layers.0.self_attn.q_proj.bias')!.data], [...seq(8, 5)]);
    assert.deepEqual([...tensors.get('base_model.model.model.layers.0.self_attn.k_proj.bias')!.data], [...seq(4, 5)]);
    // lora_only trains the adapted modules' biases only; an unadapted one is refused by name.
    const cfgFile = join(dir, 'adapter_config.json');
    writeFileSync(cfgFile, readFileSync(cfgFile, 'utf8').replace('"bias": "all"', '"bias": "lora_only"'));
    rejects(dir, 'E_ADAPTER_KEYS', /bias of k_proj, which is not in target_modules/);
  });

  it('rejects adapters that do not fit their config or the base model', () => {
    const write = (mutate: (m: Map<string, HostTensor & { dtype: 'F32' }>) => void, cfg: Partial<AdapterConfig> = {}): string => {
      const dir = tempDir();
      saveAdapter(dir, params(), { ...CONFIG, ...cfg });
      const m = new Map([...params()].map(([k, t]) => [k.replace('.default.', '.'), { ...t, dtype: 'F32' as const }]));
      mutate(m);
      writeSafetensors(join(dir, 'adapter_model.safetensors'), m);
      return dir;
    };
    const qA = 'base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight';
    rejects(write((m) => m.set(qA, { shape: [3, 8], data: new Float32Array(24), dtype: 'F32' })), 'E_ADAPTER_SHAPE', /expected \[2, 8\]/);
    rejects(write((m) => m.delete('base_model.model.model.layers.1.mlp.down_proj.lora_B.weight')), 'E_ADAPTER_KEYS', /has lora_A but no lora_B/);
    rejects(write(() => {}, { targetModules: ['q_proj', 'v_proj'] }), 'E_ADAPTER_KEYS', /down_proj, which is not in target_modules/);
    rejects(write((m) => m.set('base_model.model.lm_head.weight', { shape: [1], data: new Float32Array(1), dtype: 'F32' })), 'E_ADAPTER_KEYS', /the whole lm_head, which adapter_config\.json's modules_to_save does not list/);
    rejects(write((m) => m.set('base_model.model.model.norm.weight', { shape: [1], data: new Float32Array(1), dtype: 'F32' })), 'E_ADAPTER_KEYS', /unexpected tensor/);
    rejects(write((m) => m.set('base_model.model.model.layers.0.self_attn.q_proj.bias', { shape: [8], data: new Float32Array(8), dtype: 'F32' })),
      'E_ADAPTER_KEYS', /bias "none"/);
    const oneLayer = parseLlamaConfig({ architectures: ['LlamaForCausalLM'], vocab_size: 10, hidden_size: 8, num_attention_heads: 2,
      num_key_value_heads: 1, intermediate_size: 12, num_hidden_layers: 1 }, 'c');
    rejects(write(() => {}), 'E_ADAPTER_KEYS', /layer 1 but the model has 1 layers/, oneLayer);
    const wider = parseLlamaConfig({ architectures: ['LlamaForCausalLM'], vocab_size: 10, hidden_size: 16, num_attention_heads: 2,
      num_key_value_heads: 1, intermediate_size: 12, num_hidden_layers: 2 }, 'c');
    rejects(write(() => {}), 'E_ADAPTER_SHAPE', /expected \[16, 2\]/, wider);
  });

  it('rejects adapter configs ftc cannot run, naming the field', () => {
    const dir = tempDir();
    saveAdapter(dir, params(), CONFIG);
    const cfgFile = join(dir, 'adapter_config.json');
    const original = JSON.parse(readFileSync(cfgFile, 'utf8'));
    for (const [patch, field] of [
      [{ peft_type: 'IA3' }, 'peft_type'], [{ r: 0 }, 'r'], [{ target_modules: ['c_attn'] }, 'target_modules'],
      [{ use_dora: 'yes' }, 'use_dora'], [{ lora_bias: true }, 'lora_bias'], [{ bias: 'some' }, 'bias'], [{ rank_pattern: { q_proj: 4 } }, 'rank_pattern'],
    ] as const) {
      writeFileSync(cfgFile, JSON.stringify({ ...original, ...patch }));
      rejects(dir, 'E_ADAPTER_CONFIG_INVALID', new RegExp(`"${field}"`));
    }
    rejects(tempDir(), 'E_ADAPTER_MISSING', /adapter_config\.json/);
  });

  it('modules_to_save: whole weights under PEFT\'s saved names, modules_to_save in the config, each listed module present', () => {
    const withHead = params();
    withHead.set('base_model.model.lm_head.modules_to_save.default.weight', { shape: [10, 8], data: seq(80) });
    const dir = tempDir();
    saveAdapter(dir, withHead, { ...CONFIG, modulesToSave: ['lm_head'] });
    assert.deepEqual(JSON.parse(readFileSync(join(dir, 'adapter_config.json'), 'utf8')).modules_to_save, ['lm_head']);
    assert.ok(readSafetensorsHeader(join(dir, 'adapter_model.safetensors')).tensors.has('base_model.model.lm_head.weight'));
    const loaded = loadAdapter(dir, MODEL);
    assert.deepEqual(loaded.config.modulesToSave, ['lm_head']);
    assert.deepEqual(loaded.tensors.get('base_model.model.lm_head.weight')!.data, seq(80));
    const d2 = tempDir();
    saveAdapter(d2, params(), { ...CONFIG, modulesToSave: ['embed_tokens'] });
    rejects(d2, 'E_ADAPTER_KEYS', /modules_to_save lists embed_tokens but the adapter holds no base_model\.model\.model\.embed_tokens\.weight/);
  });

  it('DoRA: saves lora_magnitude_vector [out] under PEFT\'s key with use_dora true, and checks it comes with every pair', () => {
    const dora = params();
    for (const layer of [0, 1]) {
      for (const [mod, parent, outF] of [['q_proj', 'self_attn', 8], ['v_proj', 'self_attn', 4], ['down_proj', 'mlp', 8]] as const) {
        dora.set(`base_model.model.model.layers.${layer}.${parent}.${mod}.lora_magnitude_vector.default.weight`, { shape: [outF], data: seq(outF, 1) });
      }
    }
    const dir = tempDir();
    saveAdapter(dir, dora, { ...CONFIG, useDora: true });
    assert.equal(JSON.parse(readFileSync(join(dir, 'adapter_config.json'), 'utf8')).use_dora, true);
    const loaded = loadAdapter(dir, MODEL);
    assert.equal(loaded.config.useDora, true);
    assert.deepEqual(loaded.tensors.get('base_model.model.model.layers.1.self_attn.v_proj.lora_magnitude_vector')!.data, seq(4, 1));
    assert.equal([...loaded.tensors.keys()].filter((k) => k.endsWith('.lora_magnitude_vector')).length, 6);
    // A DoRA adapter without a magnitude, or a magnitude in a plain LoRA adapter, is refused by name.
    const missing = new Map(dora);
    missing.delete('base_model.model.model.layers.0.mlp.down_proj.lora_magnitude_vector.default.weight');
    const d2 = tempDir();
    saveAdapter(d2, missing, { ...CONFIG, useDora: true });
    rejects(d2, 'E_ADAPTER_KEYS', /layers\.0\.mlp\.down_proj has no lora_magnitude_vector/);
    const d3 = tempDir();
    saveAdapter(d3, dora, CONFIG);
    rejects(d3, 'E_ADAPTER_KEYS', /DoRA magnitude but adapter_config\.json says use_dora false/);
  });
});
