import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { gguf } from '@huggingface/gguf';
import { runCli, tempDir } from '../../helpers.js';
import { initTinyModel, tinyPipeline, writeRows } from '../../tiny-project.js';

/** `ftc run` with export stages after a (short) training run: peft, merged and gguf, cached on the second run. */
test('export stages write the adapter, merged weights and a GGUF file, and are cached like any stage', async () => {
  const dir = tempDir('ftc-export-stage-');
  writeRows(dir, Array.from({ length: 24 }, (_, i) => ({ instruction: `What is ${i} plus one?`, input: '', output: `${i} plus one is ${i + 1}.` })));
  initTinyModel(dir);
  writeFileSync(join(dir, 'p.ft'), tinyPipeline({ trainer: { max_steps: 3, lr: '1e-2' }, tail: `export adapter_only {
  model  = sft
  format = peft
  output = "exported/peft"
}
export merged {
  model  = sft
  format = merged
  dtype  = f32
  output = "exported/merged"
}
export for_llama {
  model  = sft
  format = gguf
  dtype  = q8_0
  output = "exported/tiny.gguf"
}
` }));
  const first = runCli(['run', join(dir, 'p.ft'), '--backend', 'cpu']);
  assert.equal(first.status, 0, first.stderr);

  const ex = join(dir, 'exported');
  assert.deepEqual(readdirSync(join(ex, 'peft')).filter((f) => !f.startsWith('.')).sort(), ['adapter_config.json', 'adapter_model.safetensors']);
  assert.deepEqual(readFileSync(join(ex, 'peft', 'adapter_model.safetensors')), readFileSync(join(dir, 'out', 'adapter_model.safetensors')));
  for (const f of ['config.json', 'model.safetensors', 'tokenizer.json', 'tokenizer_config.json']) assert.ok(existsSync(join(ex, 'merged', f)), f);

  // The merged model scores like base + trained adapter (through the CLI a user would run).
  const score = (...args: string[]) => {
    const r = runCli(['score', ...args, '--ids', '1 20 40 60 80 100 120', '--format', 'json', '--backend', 'cpu']);
    assert.equal(r.status, 0, r.stderr);
    return (JSON.parse(r.stdout) as { logprobs: number[] }).logprobs;
  };
  const adapted = score('--model', join(dir, 'model'), '--adapter', join(dir, 'out'));
  const merged = score('--model', join(ex, 'merged'));
  adapted.forEach((v, i) => assert.ok(Math.abs(v - merged[i]!) < 1e-5, `position ${i}: ${v} vs ${merged[i]}`));

  const { metadata, tensorInfos } = await gguf(join(ex, 'tiny.gguf'), { allowLocalFile: true });
  assert.equal((metadata as Record<string, unknown>)['general.name'], 'tiny');
  assert.equal((metadata as Record<string, unknown>)['general.file_type'], 7);
  assert.equal(tensorInfos.find((t) => t.name === 'blk.0.attn_q.weight')!.dtype as number, 8);

  const second = runCli(['run', join(dir, 'p.ft'), '--backend', 'cpu']);
  assert.equal(second.status, 0, second.stderr);
  for (const stage of ['adapter_only', 'merged', 'for_llama']) assert.match(second.stdout + second.stderr, new RegExp(`cached ${stage} \\(export\\)`), stage);
});
