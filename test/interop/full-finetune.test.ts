/**
 * transformers 5.24 loads what full fine-tuning writes (`trainer { model = base }` through `ftc run`) as a plain
 * model directory: untied and tied embeddings, and the same weights sharded (model.safetensors.index.json, a
 * small max shard size). AutoTokenizer gives ftc's ids, the logits equal ftc's within 1e-4, with no warning
 * (no missing or unexpected keys), and greedy `generate` continues the prompt as `ftc generate` does.
 */
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { loadLlamaConfig } from '../../src/model-spec/config.js';
import { readSafetensors, writeSafetensors } from '../../src/runtime/model/safetensors.js';
import { writeFullModel } from '../../src/runtime/train/full-model.js';
import { runCli, tempDir } from '../helpers.js';
import { colourRows, initTinyModel, tinyPipeline, writeRows } from '../tiny-project.js';
import { requirePython, runPython } from './env.js';
import { assertLogitsClose, encodeTexts, ftcLogits } from './logits.js';

const TOL = 1e-4;
const PROMPT = 'What color is the sky?';
const TEXTS = ['What color is the snow?', 'The coal is black.', 'What color is the plum? The plum is purple.'];

interface Loaded {
  warnings: string[];
  stored_dtype: string;
  ids: number[][];
  logits: number[][];
  generated_ids: number[];
  generated_text: string;
}

/** Makes `model` tied: tie_word_embeddings true and no lm_head.weight, as transformers saves a tied model. */
function tie(model: string): void {
  const cfgFile = join(model, 'config.json');
  writeFileSync(cfgFile, JSON.stringify({ ...JSON.parse(readFileSync(cfgFile, 'utf8')), tie_word_embeddings: true }, null, 2));
  const file = join(model, 'model.safetensors');
  const w = readSafetensors(file);
  w.delete('lm_head.weight');
  writeSafetensors(file, new Map([...w].map(([k, t]) => [k, { ...t, dtype: 'F32' as const }])), { format: 'pt' });
}

/** `ftc run` of a full fine-tuning pipeline on a fresh tiny model; returns the output directory. */
function fineTune(root: string, name: string, tied: boolean): { out: string; base: string } {
  const dir = join(root, name);
  mkdirSync(dir);
  writeRows(dir, colourRows(40));
  initTinyModel(dir, { layers: 2, heads: 4, kvHeads: 2, ffn: 48, dtype: 'f32' });
  if (tied) tie(join(dir, 'model'));
  writeFileSync(join(dir, 'p.ft'), tinyPipeline({ name: 'p', seed: 3, lora: false, trainer: { max_steps: 8, lr: '1e-2' } }));
  const r = runCli(['run', 'p.ft', '--backend', 'cpu', '--workers', '1'], { cwd: dir });
  assert.equal(r.status, 0, r.stderr);
  return { out: join(dir, 'out'), base: join(dir, 'model') };
}

test('transformers loads full fine-tuning\'s output (untied, tied, sharded): no warnings, ftc\'s ids, logits within 1e-4, the same greedy text', async (t) => {
  const python = requirePython(t);
  if (!python) return;
  const root = tempDir('ftc-interop-fullft-');
  const untied = fineTune(root, 'untied', false);
  const tied = fineTune(root, 'tied', true);
  assert.ok(!readSafetensors(join(tied.out, 'model.safetensors')).has('lm_head.weight'), 'a tied model stores embed_tokens only');

  // The untied result again, sharded: shards of at most ~40 KB and an index, as save_pretrained(max_shard_size=...) writes.
  const sharded = join(root, 'sharded');
  const trained = readSafetensors(join(untied.out, 'model.safetensors'));
  const files = writeFullModel(sharded, { modelDir: untied.base, config: loadLlamaConfig(untied.base), trained, maxShardBytes: 40_000 });
  const shards = files.filter((f) => /^model-\d{5}-of-\d{5}\.safetensors$/.test(f));
  assert.ok(shards.length >= 3, `${files}`);
  assert.ok(existsSync(join(sharded, 'model.safetensors.index.json')) && !existsSync(join(sharded, 'model.safetensors')));
  const index = JSON.parse(readFileSync(join(sharded, 'model.safetensors.index.json'), 'utf8'));
  assert.equal(Object.keys(index.weight_map).length, trained.size);
  assert.equal(index.metadata.total_size, [...trained.values()].reduce((n, w) => n + 4 * w.data.length, 0));
  for (const f of readdirSync(untied.out)) if (f.startsWith('tokenizer')) copyFileSync(join(untied.out, f), join(sharded, f));

  const cases = [{ name: 'untied', dir: untied.out }, { name: 'tied', dir: tied.out }, { name: 'sharded', dir: sharded }];
  const out = runPython<Record<string, Loaded>>(python, 'hf_load.py', {
    cases: cases.map((c) => ({ name: c.name, dir: c.dir, texts: TEXTS, prompt: PROMPT, max_new_tokens: 8 })),
  });
  for (const c of cases) {
    const hf = out[c.name]!;
    assert.deepEqual(hf.warnings, [], `${c.name}: transformers warned (missing or unexpected keys?)`);
    assert.equal(hf.stored_dtype, 'float32', `${c.name}: trained in float32, stored in float32`);
    const ids = await encodeTexts(c.dir, TEXTS);
    assert.deepEqual(hf.ids, ids, `${c.name}: AutoTokenizer's ids are ftc's`);
    assertLogitsClose(await ftcLogits(c.dir, ids), hf.logits, TOL, c.name, 0.05);
    const gen = runCli(['generate', '--model', c.dir, '--prompt', PROMPT, '--max-new-tokens', '8', '--backend', 'cpu']);
    assert.equal(gen.status, 0, gen.stderr);
    assert.ok(hf.generated_ids.length > 0, `${c.name}: generate produced nothing`);
    assert.equal(gen.stdout.replace(/\n$/, ''), hf.generated_text, `${c.name}: greedy continuation (HF ids ${hf.generated_ids})`);
  }
  // The tuned model is not the base: transformers' logits moved away from the base's.
  const baseLogits = await ftcLogits(untied.base, await encodeTexts(untied.base, TEXTS));
  assert.ok(baseLogits[0]!.some((x, i) => Math.abs(x - out.untied!.logits[0]![i]!) > 1e-2), 'fine-tuning changed the logits');
});
