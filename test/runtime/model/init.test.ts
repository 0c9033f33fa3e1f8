import assert from 'node:assert/strict';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { Template } from '@huggingface/jinja';
import { FtcError } from '../../../src/errors.js';
import { loadLlamaConfig } from '../../../src/model-spec/config.js';
import { type InitModelOptions, initModel, readCorpusTexts } from '../../../src/runtime/model/init.js';
import { readSafetensorsHeader } from '../../../src/runtime/model/safetensors.js';
import { loadWeights } from '../../../src/runtime/model/weights.js';
import { runCli, tempDir } from '../../helpers.js';

const CORPUS = [
  'Give three tips for staying healthy. Eat well, sleep well and exercise regularly.',
  'What are the three primary colors? The three primary colors are red, blue and yellow.',
  'Describe the structure of an atom. An atom is made of protons, neutrons and electrons.',
];
const SMALL: InitModelOptions = { layers: 2, hidden: 16, heads: 4, kvHeads: 2, ffn: 24, vocab: 300, maxPositions: 64, seed: 0, dtype: 'f32', corpus: CORPUS };

const files = (dir: string) => Object.fromEntries(readdirSync(dir).sort().map((f) => [f, readFileSync(join(dir, f))]));

describe('initModel', () => {
  it('writes a Hugging Face model directory that ftc loads back', () => {
    const dir = join(tempDir(), 'tiny');
    initModel(dir, SMALL);
    assert.deepEqual(readdirSync(dir).sort(), ['config.json', 'generation_config.json', 'model.safetensors', 'special_tokens_map.json', 'tokenizer.json', 'tokenizer_config.json']);
    const config = loadLlamaConfig(dir);
    assert.equal(config.architecture, 'LlamaForCausalLM');
    assert.equal(config.numKeyValueHeads, 2);
    assert.equal(config.headDim, 4);
    const weights = loadWeights(dir, config);
    assert.deepEqual([...weights.get('model.layers.1.input_layernorm.weight')!.data], new Array(16).fill(1));
    // normal(0, 0.02): over 300 x 16 values the sample std is within a few percent of 0.02 and the mean near 0.
    const emb = weights.get('model.embed_tokens.weight')!.data;
    const mean = emb.reduce((a, b) => a + b, 0) / emb.length;
    const std = Math.sqrt(emb.reduce((a, b) => a + (b - mean) ** 2, 0) / emb.length);
    assert.ok(Math.abs(std - 0.02) < 0.001, `std ${std}`);
    assert.ok(Math.abs(mean) < 0.001, `mean ${mean}`);
    assert.deepEqual(readSafetensorsHeader(join(dir, 'model.safetensors')).metadata, { format: 'pt' });
  });

  it('gives byte-identical files for the same seed, and other weights (same tokenizer) for another seed', () => {
    const root = tempDir();
    initModel(join(root, 'a'), SMALL);
    initModel(join(root, 'b'), SMALL);
    initModel(join(root, 'c'), { ...SMALL, seed: 1 });
    assert.deepEqual(files(join(root, 'a')), files(join(root, 'b')));
    const [a, c] = [files(join(root, 'a')), files(join(root, 'c'))];
    assert.notDeepEqual(a['model.safetensors'], c['model.safetensors']);
    assert.deepEqual(a['tokenizer.json'], c['tokenizer.json']);
  });

  it('stores F16 weights when asked', () => {
    const dir = join(tempDir(), 'h');
    initModel(dir, { ...SMALL, dtype: 'f16' });
    const header = readSafetensorsHeader(join(dir, 'model.safetensors'));
    assert.ok([...header.tensors.values()].every((t) => t.dtype === 'F16'));
    // config.json says so, as transformers' save_pretrained would: the memory plan takes the stored dtype from it.
    assert.equal(JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')).torch_dtype, 'float16');
    assert.equal(loadLlamaConfig(dir).storedDtype, 'float16');
    assert.equal(loadWeights(dir, loadLlamaConfig(dir)).get('model.norm.weight')!.data[0], 1);
  });

  it('writes a tokenizer_config.json whose chat template renders Llama 2 turns', () => {
    const dir = join(tempDir(), 't');
    initModel(dir, SMALL);
    const cfg = JSON.parse(readFileSync(join(dir, 'tokenizer_config.json'), 'utf8'));
    assert.equal(cfg.bos_token, '<s>');
    assert.equal(cfg.eos_token, '</s>');
    assert.equal(cfg.pad_token, '<unk>');
    assert.equal(cfg.model_max_length, 64);
    const out = new Template(cfg.chat_template).render({
      messages: [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'Hi' }, { role: 'assistant', content: 'Hello' }],
      bos_token: cfg.bos_token, eos_token: cfg.eos_token,
    });
    assert.equal(out, '<s>[INST] <<SYS>>\nBe brief.\n<</SYS>>\n\nHi [/INST] Hello </s>');
  });

  it('refuses a non-empty directory and invalid sizes', () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'x'), '');
    assert.throws(() => initModel(dir, SMALL), (e: unknown) => e instanceof FtcError && e.code === 'E_INIT_MODEL_EXISTS');
    assert.throws(() => initModel(join(tempDir(), 'm'), { ...SMALL, heads: 3 }), (e: unknown) =>
      e instanceof FtcError && e.code === 'E_MODEL_CONFIG_INVALID' && /num_attention_heads/.test(e.message));
  });

  it('reads every string field of JSON and JSON-lines records as corpus text', () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'a.json'), JSON.stringify([{ instruction: 'Say hi', input: '', output: 'hi', n: 3 }]));
    writeFileSync(join(dir, 'b.jsonl'), '{"text": "one"}\n\n{"text": "two"}\n');
    assert.deepEqual(readCorpusTexts(join(dir, 'a.json')), ['Say hi', 'hi']);
    assert.deepEqual(readCorpusTexts(join(dir, 'b.jsonl')), ['one', 'two']);
  });
});

describe('ftc init-model', () => {
  it('writes the same bytes for the same seed and different weights for another', () => {
    const root = tempDir();
    const corpus = join(root, 'corpus.txt');
    writeFileSync(corpus, CORPUS.join('\n'));
    const args = (dir: string, seed: string) => ['init-model', join(root, dir), '--layers', '1', '--hidden', '16', '--heads', '2', '--kv-heads', '1',
      '--ffn', '32', '--vocab', '300', '--seed', seed, '--corpus', corpus];
    for (const [dir, seed] of [['a', '7'], ['b', '7'], ['c', '8']] as const) {
      const r = runCli(args(dir, seed));
      assert.equal(r.status, 0, r.stderr);
      assert.match(r.stdout, /wrote .*: Llama, 1 layers, hidden 16/);
    }
    assert.deepEqual(files(join(root, 'a')), files(join(root, 'b')));
    assert.notDeepEqual(files(join(root, 'a'))['model.safetensors'], files(join(root, 'c'))['model.safetensors']);

    const again = runCli(args('a', '9'));
    assert.equal(again.status, 1);
    assert.match(again.stderr, /error\[E_INIT_MODEL_EXISTS\]/);
    const kept = runCli([...args('a', '9'), '--if-missing']);
    assert.equal(kept.status, 0, kept.stderr);
    assert.deepEqual(files(join(root, 'a')), files(join(root, 'b')));
  });

  it('reports bad options as usage or config errors, not crashes', () => {
    const root = tempDir();
    mkdirSync(join(root, 'empty'));
    const bad = runCli(['init-model', join(root, 'm'), '--layers', 'two']);
    assert.equal(bad.status, 2);
    const heads = runCli(['init-model', join(root, 'empty'), '--heads', '5', '--corpus', join(root, 'missing.txt')]);
    assert.equal(heads.status, 1);
    assert.match(heads.stderr, /E_INIT_MODEL_CORPUS/);
  });
});
