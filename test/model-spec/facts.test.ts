import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { isFtcError } from '../../src/errors.js';
import { findChatTemplate } from '../../src/model-spec/chat-template.js';
import { parseLlamaConfig } from '../../src/model-spec/config.js';
import { expectedWeightShapes, LINEAR_MODULES, moduleDims, resolveTargetModules } from '../../src/model-spec/modules.js';
import { baseParameterCount, loraParameterCount, rankTooLarge } from '../../src/model-spec/params.js';
import { tokenizerJsonVocabSize, tokenizerModelMismatch } from '../../src/model-spec/tokenizer.js';
import { tempDir } from '../helpers.js';

// hidden 16, 4 heads of 4, 2 kv heads → q 16, kv 8; ffn 24; vocab 100; 2 layers.
const QWEN = parseLlamaConfig({ architectures: ['Qwen2ForCausalLM'], hidden_size: 16, intermediate_size: 24, num_hidden_layers: 2, num_attention_heads: 4, num_key_value_heads: 2, vocab_size: 100, max_position_embeddings: 64, bos_token_id: 1, eos_token_id: 2 }, 'config.json');

test('module shapes and biases, by hand', () => {
  assert.deepEqual(LINEAR_MODULES.map((m) => [m, moduleDims(QWEN, m)]), [
    ['q_proj', { in: 16, out: 16 }], ['k_proj', { in: 16, out: 8 }], ['v_proj', { in: 16, out: 8 }], ['o_proj', { in: 16, out: 16 }],
    ['gate_proj', { in: 16, out: 24 }], ['up_proj', { in: 16, out: 24 }], ['down_proj', { in: 24, out: 16 }],
  ]);
  const shapes = expectedWeightShapes(QWEN);
  // Qwen2: q/k/v biases, never o_proj.
  assert.deepEqual(['q', 'k', 'v', 'o'].map((m) => shapes.get(`model.layers.0.self_attn.${m}_proj.bias`)), [[16], [8], [8], undefined]);
  assert.deepEqual(shapes.get('model.layers.1.mlp.down_proj.weight'), [16, 24]);
});

test('parameter counts, by hand', () => {
  // per layer: norms 2·16, q 256+16, k 128+8, v 128+8, o 256, mlp 3·384 → 1984; embed and lm_head 1600 each; final norm 16
  assert.equal(baseParameterCount(QWEN), 1600 + 2 * 1984 + 16 + 1600);
  assert.equal(baseParameterCount({ ...QWEN, tieWordEmbeddings: true }), 1600 + 2 * 1984 + 16);
  // r 2 on q, v: 2·(16+16) + 2·(16+8) = 112 per layer; lora_only adds q and v biases (16 + 8)
  assert.equal(loraParameterCount(QWEN, ['q_proj', 'v_proj'], 2), 224);
  assert.equal(loraParameterCount(QWEN, ['q_proj', 'v_proj'], 2, 'lora_only'), 224 + 2 * 24);
  assert.equal(loraParameterCount(QWEN, ['q_proj', 'v_proj'], 2, 'all'), 224 + 2 * 32);
  assert.deepEqual(rankTooLarge(QWEN, ['q_proj', 'v_proj'], 12), [{ module: 'v_proj', limit: 8 }]);
  assert.deepEqual(rankTooLarge(QWEN, ['q_proj', 'v_proj'], 8), []);
});

test('target modules: all-linear expands, an unknown name is E0307', () => {
  assert.deepEqual(resolveTargetModules('all-linear', 'LlamaForCausalLM'), [...LINEAR_MODULES]);
  assert.throws(() => resolveTargetModules(['q_proj', 'qkv_proj'], 'LlamaForCausalLM'), (e: unknown) => isFtcError(e) && e.code === 'E0307' && /qkv_proj/.test(e.message));
});

test('tokenizer vocabulary: model vocabulary and added tokens, each distinct string once', () => {
  const bpe = { model: { type: 'BPE', vocab: { a: 0, b: 1, '<s>': 2 } }, added_tokens: [{ id: 2, content: '<s>' }, { id: 3, content: '<pad>' }] };
  assert.equal(tokenizerJsonVocabSize(bpe), 4);
  assert.equal(tokenizerJsonVocabSize({ model: { type: 'Unigram', vocab: [['a', -1], ['b', -2]] }, added_tokens: [] }), 2);
  assert.equal(tokenizerJsonVocabSize({ model: {} }), undefined);
  assert.equal(tokenizerModelMismatch(100, QWEN, { tokenizer: 't', model: 'm' }), undefined);
  assert.equal(tokenizerModelMismatch(101, QWEN, { tokenizer: 't', model: 'm' })?.code, 'E_TOKENIZER_MODEL_MISMATCH');
});

test('chat template discovery: a string, the default of named ones, chat_template.jinja beside, or E_CHAT_TEMPLATE', () => {
  const dir = tempDir();
  const at = (name: string, config: object, jinja?: string): string => {
    mkdirSync(join(dir, name));
    writeFileSync(join(dir, name, 'tokenizer_config.json'), JSON.stringify(config));
    if (jinja !== undefined) writeFileSync(join(dir, name, 'chat_template.jinja'), jinja);
    return join(dir, name, 'tokenizer_config.json');
  };
  assert.equal(findChatTemplate(at('string', { chat_template: 'S' })).source, 'S');
  assert.equal(findChatTemplate(at('named', { chat_template: [{ name: 'tool_use', template: 'T' }, { name: 'default', template: 'D' }] })).source, 'D');
  assert.equal(findChatTemplate(at('first', { chat_template: [{ name: 'rag', template: 'R' }] })).source, 'R');
  const jinja = findChatTemplate(at('jinja', { bos_token: '<s>' }, 'J'));
  assert.deepEqual([jinja.source, jinja.file], ['J', join(dir, 'jinja', 'chat_template.jinja')]);
  assert.throws(() => findChatTemplate(at('none', { bos_token: '<s>' })), (e: unknown) => isFtcError(e) && e.code === 'E_CHAT_TEMPLATE');
});
