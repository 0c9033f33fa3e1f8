import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isFtcError } from '../../src/errors.js';
import { loadLlamaConfig, parseLlamaConfig, type LlamaConfig } from '../../src/model-spec/config.js';
import { tempDir } from '../helpers.js';
import { requirePython, runPython } from './env.js';

type Saved = { accepted: boolean; error?: string; dir?: string; json_keys?: string[]; read?: { rope_theta: number; rope_type: string; factor: number | null; head_dim: number; num_key_value_heads: number; hidden_size: number; max_position_embeddings: number; tie_word_embeddings: boolean } };

const SMALL = { hidden_size: 64, intermediate_size: 96, num_hidden_layers: 2, num_attention_heads: 4, vocab_size: 300, max_position_embeddings: 128 };
const CASES = [
  // transformers 5 folds rope_theta and rope_scaling into rope_parameters when it saves.
  { name: 'llama-theta', class: 'LlamaConfig', kwargs: { ...SMALL, num_key_value_heads: 2, rope_theta: 500000.0 } },
  { name: 'llama-linear', class: 'LlamaConfig', kwargs: { ...SMALL, rope_theta: 250000.0, rope_scaling: { rope_type: 'linear', factor: 4.0 } } },
  { name: 'llama-head-dim', class: 'LlamaConfig', kwargs: { ...SMALL, head_dim: 32, tie_word_embeddings: true } },
  { name: 'qwen2-theta', class: 'Qwen2Config', kwargs: { ...SMALL, num_key_value_heads: 2, rope_theta: 1000000.0, bos_token_id: 1, eos_token_id: 2 } },
  { name: 'qwen2-linear', class: 'Qwen2Config', kwargs: { ...SMALL, num_key_value_heads: 4, rope_parameters: { rope_type: 'linear', factor: 2.0, rope_theta: 20000.0 }, bos_token_id: 1, eos_token_id: 2 } },
  // heads that do not divide hidden_size, with an explicit head_dim
  { name: 'llama-odd-heads', class: 'LlamaConfig', kwargs: { ...SMALL, hidden_size: 60, num_attention_heads: 8, head_dim: 8 } },
  { name: 'qwen2-odd-heads', class: 'Qwen2Config', kwargs: { ...SMALL, hidden_size: 60, num_attention_heads: 8, num_key_value_heads: 4, head_dim: 8, bos_token_id: 1, eos_token_id: 2 } },
];

test("ftc reads transformers 5's saved configs as transformers does: rope_parameters, head_dim, and the same refusals", (t) => {
  const python = requirePython(t);
  if (!python) return;
  const saved = runPython<Record<string, Saved>>(python, 'save_configs.py', { out: tempDir('ftc-interop-config-'), cases: CASES });
  for (const c of CASES) {
    const s = saved[c.name]!;
    if (!s.accepted) {
      // transformers refuses it; so must ftc, naming the field.
      assert.throws(() => parseLlamaConfig({ architectures: [c.class.replace('Config', 'ForCausalLM')], ...c.kwargs }, 'config.json'),
        (e: unknown) => isFtcError(e) && e.code === 'E_MODEL_CONFIG_INVALID' && /num_attention_heads/.test(e.message), `${c.name}: transformers says ${s.error}`);
      continue;
    }
    // The file transformers 5 wrote holds rope_parameters, not the older rope_theta / rope_scaling keys.
    assert.ok(s.json_keys!.includes('rope_parameters') && !s.json_keys!.includes('rope_theta') && !s.json_keys!.includes('rope_scaling'), `${c.name}: ${s.json_keys}`);
    const ftc: LlamaConfig = loadLlamaConfig(s.dir!);
    const r = s.read!;
    assert.equal(ftc.ropeTheta, r.rope_theta, `${c.name}: rope_theta`);
    assert.deepEqual(ftc.ropeScaling, r.rope_type === 'default' ? null : { type: r.rope_type, factor: r.factor }, `${c.name}: scaling`);
    assert.equal(ftc.headDim, r.head_dim, `${c.name}: head_dim`);
    assert.equal(ftc.numKeyValueHeads, r.num_key_value_heads, c.name);
    assert.equal(ftc.maxPositionEmbeddings, r.max_position_embeddings, c.name);
    assert.equal(ftc.tieWordEmbeddings, r.tie_word_embeddings, c.name);
  }
  // Both refusal and acceptance happened: the cases are not vacuous.
  assert.equal(saved['llama-odd-heads']!.accepted, false);
  assert.equal(saved['qwen2-odd-heads']!.accepted, true);
  assert.equal(saved['llama-theta']!.read!.rope_theta, 500000);
});
