import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { FtcError } from '../../src/errors.js';
import { llamaConfigToJson, loadLlamaConfig, parseLlamaConfig } from '../../src/model-spec/config.js';
import { tempDir } from '../helpers.js';

const FILE = '/models/x/config.json';

/** TinyLlama-1.1B-Chat-v1.0's config.json. */
const TINYLLAMA = {
  architectures: ['LlamaForCausalLM'], attention_bias: false, bos_token_id: 1, eos_token_id: 2, hidden_act: 'silu',
  hidden_size: 2048, initializer_range: 0.02, intermediate_size: 5632, max_position_embeddings: 2048, model_type: 'llama',
  num_attention_heads: 32, num_hidden_layers: 22, num_key_value_heads: 4, pretraining_tp: 1, rms_norm_eps: 1e-5,
  rope_scaling: null, rope_theta: 10000.0, tie_word_embeddings: false, torch_dtype: 'bfloat16', use_cache: true, vocab_size: 32000,
};

function rejects(json: unknown, code: string, field: string): void {
  assert.throws(() => parseLlamaConfig(json, FILE), (e: unknown) => {
    assert.ok(e instanceof FtcError);
    assert.equal(e.code, code);
    assert.match(e.message, new RegExp(`"${field.replace(/[.[\]]/g, '\\$&')}"`), e.message);
    assert.equal(e.where?.file, FILE);
    return true;
  });
}

describe('parseLlamaConfig', () => {
  it('reads TinyLlama as a Llama with grouped-query attention', () => {
    const c = parseLlamaConfig(TINYLLAMA, FILE);
    assert.deepEqual(c, {
      vocabSize: 32000, hiddenSize: 2048, intermediateSize: 5632, numHiddenLayers: 22, numAttentionHeads: 32,
      numKeyValueHeads: 4, headDim: 64, maxPositionEmbeddings: 2048, rmsNormEps: 1e-5, ropeTheta: 10000, ropeScaling: null,
      tieWordEmbeddings: false, attentionBias: false, bosTokenId: 1, eosTokenId: 2, eosTokenIds: [2],
      architecture: 'LlamaForCausalLM', modelType: 'llama', storedDtype: 'bfloat16',
    });
  });

  it('applies Hugging Face defaults for absent fields', () => {
    const c = parseLlamaConfig({ architectures: ['LlamaForCausalLM'], hidden_size: 64, num_attention_heads: 4 }, FILE);
    assert.equal(c.numKeyValueHeads, 4); // = heads: plain multi-head attention
    assert.equal(c.headDim, 16); // hidden / heads
    assert.equal(c.ropeTheta, 10000);
    assert.equal(c.rmsNormEps, 1e-6);
    assert.equal(c.vocabSize, 32000);
    assert.equal(c.maxPositionEmbeddings, 2048);
    assert.equal(c.tieWordEmbeddings, false);
    assert.equal(c.padTokenId, undefined);
  });

  it('takes linear rope scaling in both the old and the new spelling', () => {
    assert.deepEqual(parseLlamaConfig({ ...TINYLLAMA, rope_scaling: { type: 'linear', factor: 2 } }, FILE).ropeScaling, { type: 'linear', factor: 2 });
    assert.deepEqual(parseLlamaConfig({ ...TINYLLAMA, rope_scaling: { rope_type: 'linear', factor: 4 } }, FILE).ropeScaling, { type: 'linear', factor: 4 });
  });

  it('gives Qwen2 q/k/v biases and accepts its disabled sliding window', () => {
    const qwen = parseLlamaConfig({
      architectures: ['Qwen2ForCausalLM'], model_type: 'qwen2', hidden_size: 896, intermediate_size: 4864, num_attention_heads: 14,
      num_key_value_heads: 2, num_hidden_layers: 24, max_position_embeddings: 32768, rope_theta: 1000000, tie_word_embeddings: true,
      use_sliding_window: false, sliding_window: 32768, bos_token_id: 151643, eos_token_id: 151645, vocab_size: 151936,
    }, FILE);
    assert.equal(qwen.attentionBias, true);
    assert.equal(qwen.headDim, 64);
    assert.equal(qwen.tieWordEmbeddings, true);
    assert.equal(qwen.eosTokenId, 151645);
  });

  it('accepts Mistral without a sliding window and rejects one shorter than the context', () => {
    const base = { architectures: ['MistralForCausalLM'], hidden_size: 64, num_attention_heads: 4, num_key_value_heads: 1, max_position_embeddings: 1024 };
    assert.equal(parseLlamaConfig({ ...base, sliding_window: null }, FILE).architecture, 'MistralForCausalLM');
    assert.equal(parseLlamaConfig({ ...base, sliding_window: 1024 }, FILE).numKeyValueHeads, 1);
    rejects({ ...base, sliding_window: 256 }, 'E_MODEL_CONFIG_UNSUPPORTED', 'sliding_window');
    rejects({ ...base, max_position_embeddings: 8192 }, 'E_MODEL_CONFIG_UNSUPPORTED', 'sliding_window'); // Mistral's default window is 4096
  });

  it('accepts a Qwen2 config whose bos/eos ids are null or absent, as transformers does', () => {
    for (const ids of [{ bos_token_id: null, eos_token_id: null }, {}]) {
      const c = parseLlamaConfig({ architectures: ['Qwen2ForCausalLM'], hidden_size: 64, num_attention_heads: 4, ...ids }, FILE);
      assert.equal(c.bosTokenId, undefined);
      assert.equal(c.eosTokenId, undefined);
      assert.deepEqual(c.eosTokenIds, []);
      const json = llamaConfigToJson(c);
      assert.equal(json.eos_token_id, null);
      assert.deepEqual(parseLlamaConfig(json, FILE), { ...c, storedDtype: 'float32' }); // llamaConfigToJson describes float32 weights
    }
    // Llama keeps transformers' LlamaConfig defaults.
    assert.deepEqual(parseLlamaConfig({ ...TINYLLAMA, bos_token_id: undefined, eos_token_id: undefined }, FILE).eosTokenIds, [2]);
  });

  it('keeps every eos id of a Llama 3 style list', () => {
    const c = parseLlamaConfig({ ...TINYLLAMA, eos_token_id: [2, 7] }, FILE);
    assert.equal(c.eosTokenId, 2);
    assert.deepEqual(c.eosTokenIds, [2, 7]);
  });

  it('names the field and the file in every error', () => {
    rejects({ ...TINYLLAMA, architectures: ['GPT2LMHeadModel'] }, 'E_MODEL_CONFIG_UNSUPPORTED', 'architectures');
    rejects({ model_type: 'gpt2' }, 'E_MODEL_CONFIG_UNSUPPORTED', 'model_type');
    rejects({ ...TINYLLAMA, rope_scaling: { type: 'dynamic', factor: 2 } }, 'E_MODEL_CONFIG_UNSUPPORTED', 'rope_scaling');
    rejects({ ...TINYLLAMA, rope_scaling: { type: 'linear', factor: -1 } }, 'E_MODEL_CONFIG_INVALID', 'rope_scaling.factor');
    rejects({ ...TINYLLAMA, rope_scaling: null, rope_parameters: { rope_type: 'llama3', factor: 8, rope_theta: 500000 } }, 'E_MODEL_CONFIG_UNSUPPORTED', 'rope_parameters');
    rejects({ ...TINYLLAMA, rope_scaling: null, rope_parameters: { rope_theta: 0 } }, 'E_MODEL_CONFIG_INVALID', 'rope_parameters.rope_theta');
    rejects({ ...TINYLLAMA, rope_scaling: null, rope_parameters: { full_attention: { rope_theta: 1e4 } } }, 'E_MODEL_CONFIG_UNSUPPORTED', 'rope_parameters');
    rejects({ ...TINYLLAMA, hidden_act: 'gelu' }, 'E_MODEL_CONFIG_UNSUPPORTED', 'hidden_act');
    rejects({ ...TINYLLAMA, num_key_value_heads: 5 }, 'E_MODEL_CONFIG_INVALID', 'num_key_value_heads');
    rejects({ ...TINYLLAMA, hidden_size: 100 }, 'E_MODEL_CONFIG_INVALID', 'num_attention_heads');
    rejects({ ...TINYLLAMA, vocab_size: 0 }, 'E_MODEL_CONFIG_INVALID', 'vocab_size');
    rejects({ ...TINYLLAMA, num_hidden_layers: 2.5 }, 'E_MODEL_CONFIG_INVALID', 'num_hidden_layers');
    rejects({ ...TINYLLAMA, rms_norm_eps: 'small' }, 'E_MODEL_CONFIG_INVALID', 'rms_norm_eps');
    rejects({ ...TINYLLAMA, tie_word_embeddings: 'yes' }, 'E_MODEL_CONFIG_INVALID', 'tie_word_embeddings');
    rejects({ ...TINYLLAMA, eos_token_id: 32000 }, 'E_MODEL_CONFIG_INVALID', 'eos_token_id');
    rejects({ ...TINYLLAMA, mlp_bias: true }, 'E_MODEL_CONFIG_UNSUPPORTED', 'mlp_bias');
    rejects({ ...TINYLLAMA, eos_token_id: [] }, 'E_MODEL_CONFIG_INVALID', 'eos_token_id');
    rejects({ ...TINYLLAMA, head_dim: 63 }, 'E_MODEL_CONFIG_INVALID', 'head_dim');
  });

  it("reads transformers 5's rope_parameters with transformers' precedence", () => {
    const { rope_scaling: _, rope_theta: __, ...bare } = TINYLLAMA;
    const p = (extra: object) => {
      const c = parseLlamaConfig({ ...bare, ...extra }, FILE);
      return [c.ropeTheta, c.ropeScaling];
    };
    assert.deepEqual(p({}), [10000, null]);
    assert.deepEqual(p({ rope_parameters: { rope_theta: 500000, rope_type: 'default' } }), [500000, null]);
    assert.deepEqual(p({ rope_parameters: { rope_theta: 500000, rope_type: 'linear', factor: 4 } }), [500000, { type: 'linear', factor: 4 }]);
    // The dict's theta wins over a top-level one; a top-level one fills a dict without it.
    assert.deepEqual(p({ rope_theta: 1000, rope_parameters: { rope_theta: 2000, rope_type: 'default' } }), [2000, null]);
    assert.deepEqual(p({ rope_theta: 1000, rope_parameters: { rope_type: 'linear', factor: 2 } }), [1000, { type: 'linear', factor: 2 }]);
    // A legacy rope_scaling replaces rope_parameters, as convert_rope_params_to_dict does.
    assert.deepEqual(p({ rope_theta: 1000, rope_scaling: { type: 'linear', factor: 3 }, rope_parameters: { rope_theta: 2000, rope_type: 'default' } }), [1000, { type: 'linear', factor: 3 }]);
  });

  it('refuses a Llama whose heads do not divide hidden_size even with head_dim, as transformers 5 does', () => {
    const llama = { ...TINYLLAMA, hidden_size: 60, num_attention_heads: 8, num_key_value_heads: 4, head_dim: 8 };
    rejects(llama, 'E_MODEL_CONFIG_INVALID', 'num_attention_heads');
    // Qwen2 and Mistral read head_dim in their attention, so transformers accepts it there.
    const qwen = parseLlamaConfig({ ...llama, architectures: ['Qwen2ForCausalLM'], model_type: 'qwen2' }, FILE);
    assert.equal(qwen.headDim, 8);
    // A head_dim other than hidden_size / heads is fine when the heads do divide it.
    assert.equal(parseLlamaConfig({ ...TINYLLAMA, head_dim: 128 }, FILE).headDim, 128);
  });

  it('writes back a config.json that parses to the same config', () => {
    const c = parseLlamaConfig({ ...TINYLLAMA, rope_scaling: { type: 'linear', factor: 2 }, pad_token_id: 0 }, FILE);
    // TINYLLAMA says bfloat16, and the written torch_dtype keeps it; a config with no stored dtype is written as float32.
    assert.equal(c.storedDtype, 'bfloat16');
    assert.deepEqual(parseLlamaConfig(JSON.parse(JSON.stringify(llamaConfigToJson(c))), FILE), c);
    const { storedDtype: _, ...unknown } = c;
    assert.deepEqual(parseLlamaConfig(llamaConfigToJson(unknown), FILE), { ...unknown, storedDtype: 'float32' });
  });

  it('reads the stored dtype from dtype (transformers 5) or torch_dtype; "auto" or none leaves it unknown', () => {
    assert.equal(parseLlamaConfig({ ...TINYLLAMA, torch_dtype: undefined, dtype: 'float16' }, FILE).storedDtype, 'float16');
    assert.equal(parseLlamaConfig({ ...TINYLLAMA, torch_dtype: 'auto' }, FILE).storedDtype, undefined);
    assert.equal(parseLlamaConfig({ ...TINYLLAMA, torch_dtype: undefined }, FILE).storedDtype, undefined);
  });
});

describe('loadLlamaConfig', () => {
  it('reports a missing or malformed config.json with its path', () => {
    const dir = tempDir();
    assert.throws(() => loadLlamaConfig(dir), (e: unknown) => e instanceof FtcError && e.code === 'E_MODEL_CONFIG_MISSING');
    writeFileSync(join(dir, 'config.json'), '{"hidden_size": 64,');
    assert.throws(() => loadLlamaConfig(dir), (e: unknown) =>
      e instanceof FtcError && e.code === 'E_MODEL_CONFIG_INVALID' && e.where?.file === join(dir, 'config.json'));
  });

  it('loads a directory', () => {
    const dir = join(tempDir(), 'tiny');
    mkdirSync(dir);
    writeFileSync(join(dir, 'config.json'), JSON.stringify(TINYLLAMA));
    assert.equal(loadLlamaConfig(dir).numHiddenLayers, 22);
  });
});
