/**
 * transformers 5.24 loads what ftc writes as a model: `ftc export --format merged` (f32 and f16, and a Qwen2
 * whose adapter trained its biases) and `ftc init-model`'s directory. AutoTokenizer gives ftc's token ids, the logits equal ftc's within 1e-4
 * (f16 weights widened to f32 on both sides), and greedy `generate` continues the prompt with the text
 * `ftc generate` prints. One Python process for the whole file.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { runCli, tempDir } from '../helpers.js';
import { CORPUS, makeRandomAdapter, makeTinyModel } from '../runtime/export/fixture.js';
import { requirePython, runPython } from './env.js';
import { ftcAdapter, makeTinyQwen2 } from './fixtures.js';
import { assertLogitsClose, encodeTexts, ftcLogits } from './logits.js';

const TOL = 1e-4;
const PROMPT = 'Give three tips for staying';
const NEW_TOKENS = 12;

interface Loaded {
  warnings: string[];
  stored_dtype: string;
  ids: number[][];
  logits: number[][];
  prompt_ids: number[];
  generated_ids: number[];
  generated_text: string;
}

test('transformers loads ftc\'s merged exports and init-model\'s directory: same ids, logits and greedy text', async (t) => {
  const python = requirePython(t);
  if (!python) return;
  const root = tempDir('ftc-interop-hf-load-');
  const base = join(root, 'base');
  const config = makeTinyModel(base);
  const adapter = join(root, 'adapter');
  makeRandomAdapter(adapter, config, { targetModules: ['q_proj', 'v_proj', 'o_proj', 'up_proj'] });
  // A Qwen2 whose adapter trains every bias (bias = all): the merged export carries the trained biases.
  const qwen = join(root, 'qwen2');
  makeTinyQwen2(qwen, base);
  const qwenAdapter = join(root, 'qwen2-adapter');
  ftcAdapter(qwen, qwenAdapter, { r: 4, alpha: 8, targetModules: ['q_proj', 'v_proj'], bias: 'all', useRslora: false }, 21);
  const cases: Array<{ name: string; dir: string; dtype: string; unmerged?: { model: string; adapter: string } }> = [];
  for (const [name, model, adapterDir, dtype] of [
    ['merged f32', base, adapter, 'f32'], ['merged f16', base, adapter, 'f16'], ['qwen2 bias=all merged f32', qwen, qwenAdapter, 'f32'],
  ] as const) {
    const dir = join(root, name.replace(/[ =]/g, '-'));
    const r = runCli(['export', '--model', model, '--adapter', adapterDir, '--format', 'merged', '--dtype', dtype, '--out', dir]);
    assert.equal(r.status, 0, r.stderr);
    cases.push({ name, dir, dtype: { f32: 'float32', f16: 'float16' }[dtype], ...(dtype === 'f32' ? { unmerged: { model, adapter: adapterDir } } : {}) });
  }
  const init = join(root, 'init');
  const r = runCli(['init-model', init, '--layers', '2', '--hidden', '64', '--heads', '4', '--kv-heads', '2', '--ffn', '96', '--vocab', '400']);
  assert.equal(r.status, 0, r.stderr);
  cases.push({ name: 'init-model', dir: init, dtype: 'float32' });

  const texts = CORPUS.slice(0, 3);
  const out = runPython<Record<string, Loaded>>(python, 'hf_load.py', {
    cases: cases.map((c) => ({ name: c.name, dir: c.dir, texts, prompt: PROMPT, max_new_tokens: NEW_TOKENS })),
  });

  for (const c of cases) {
    const hf = out[c.name]!;
    assert.deepEqual(hf.warnings, [], `${c.name}: transformers warned`);
    assert.equal(hf.stored_dtype, c.dtype, `${c.name}: config.json's dtype`);
    const ids = await encodeTexts(c.dir, texts);
    assert.deepEqual(hf.ids, ids, `${c.name}: AutoTokenizer's ids are ftc's`);
    assert.deepEqual(hf.prompt_ids, (await encodeTexts(c.dir, [PROMPT]))[0]);
    // init-model's weights (std 0.02) give small logits; a tolerance of 1e-4 still separates them.
    assertLogitsClose(await ftcLogits(c.dir, ids), hf.logits, TOL, c.name, c.name === 'init-model' ? 0.05 : 0.5);
    // f32 merged weights are the adapter folded in: transformers on them equals ftc on base + adapter.
    if (c.unmerged) assertLogitsClose(await ftcLogits(c.unmerged.model, ids, c.unmerged.adapter), hf.logits, TOL, `${c.name} against ftc's unmerged adapter`);
    const gen = runCli(['generate', '--model', c.dir, '--prompt', PROMPT, '--max-new-tokens', String(NEW_TOKENS), '--backend', 'cpu']);
    assert.equal(gen.status, 0, gen.stderr);
    assert.ok(hf.generated_ids.length > 0, `${c.name}: generate produced nothing`);
    assert.equal(gen.stdout.replace(/\n$/, ''), hf.generated_text, `${c.name}: greedy continuation (HF ids ${hf.generated_ids})`);
  }
});
