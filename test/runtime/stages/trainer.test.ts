import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { readSafetensorsHeader } from '../../../src/runtime/model/safetensors.js';
import { parseMetrics } from '../../../src/runtime/train/metrics.js';
import { runCli, tempDir } from '../../helpers.js';
import { colourRows, initTinyModel, type Keys, tinyPipeline, writeRows } from '../../tiny-project.js';

/** The colour of a few things, asked and answered the same way, on models that may differ from their tokenizer. */
function pipeline(opts: { tokenizer: string; model: string; trainer?: Keys }): string {
  return tinyPipeline({
    preprocess: { eval_split: 0.2 },
    tokenizer: { vocab: `"${opts.tokenizer}/tokenizer.json"` },
    model: { path: `"${opts.model}"` },
    trainer: { max_steps: 12, lr: '1e-2', log_every: 2, save_every: 5, precision: 'fp16', ...opts.trainer },
  });
}

function project(): string {
  const dir = tempDir();
  writeRows(dir, colourRows(40));
  return dir;
}

test('the tiny pipeline runs end to end: eval loss falls, the adapter is in PEFT format, metrics, plot and report are written', () => {
  const dir = project();
  initTinyModel(dir);
  writeFileSync(join(dir, 'p.ft'), pipeline({ tokenizer: 'model', model: 'model' }));
  const r = runCli(['run', join(dir, 'p.ft'), '--backend', 'cpu']);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stderr, /precision fp16 is not available on the cpu backend; trained in fp32 instead/);
  assert.equal(r.stderr.match(/precision fp16/g)!.length, 1, 'the precision warning is given once');

  const out = join(dir, 'out');
  for (const f of ['adapter_config.json', 'adapter_model.safetensors', 'metrics.jsonl', 'loss.svg', 'report.html']) assert.ok(existsSync(join(out, f)), f);
  const cfg = JSON.parse(readFileSync(join(out, 'adapter_config.json'), 'utf8'));
  assert.equal(cfg.peft_type, 'LORA');
  assert.deepEqual(cfg.target_modules, ['q_proj', 'v_proj']);
  const header = readSafetensorsHeader(join(out, 'adapter_model.safetensors'));
  // hidden 32, 2 heads of 16, 1 kv head: q_proj 32→32, v_proj 32→16.
  assert.deepEqual(header.tensors.get('base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight')?.shape, [4, 32]);
  assert.deepEqual(header.tensors.get('base_model.model.model.layers.0.self_attn.v_proj.lora_B.weight')?.shape, [16, 4]);

  const metrics = parseMetrics(readFileSync(join(out, 'metrics.jsonl'), 'utf8'));
  const evals = metrics.filter((m) => m.eval_loss !== undefined);
  assert.ok(evals.length >= 2);
  assert.ok(evals.at(-1)!.eval_loss! < evals[0]!.eval_loss!, `eval losses ${evals.map((e) => e.eval_loss)}`);
  assert.deepEqual(metrics.filter((m) => m.loss !== undefined).map((m) => m.step), [2, 4, 6, 8, 10, 12]);
  for (const m of metrics.filter((m) => m.loss !== undefined)) {
    assert.ok(m.lr! > 0 && m.grad_norm! >= 0 && m.tokens_per_s! > 0);
  }
  const svg = readFileSync(join(out, 'loss.svg'), 'utf8');
  assert.match(svg, /<path class="train" d="M/);
  assert.match(svg, /<path class="eval" d="M/);
  const html = readFileSync(join(out, 'report.html'), 'utf8');
  assert.ok(html.includes('<svg') && html.includes('final eval loss'));
});

test('a tokenizer whose vocabulary does not fit the model is a clear error', () => {
  const dir = project();
  initTinyModel(dir, { vocab: 320 }, 'big');
  initTinyModel(dir, { vocab: 290 }, 'small');
  writeFileSync(join(dir, 'p.ft'), pipeline({ tokenizer: 'big', model: 'small' }));
  const r = runCli(['run', join(dir, 'p.ft'), '--backend', 'cpu']);
  assert.equal(r.status, 1, r.stdout);
  // ftc check knows it from the files, so run stops before any stage, at the tokenizer's vocab.
  assert.match(r.stderr, /p\.ft:\d+:\d+: error\[E_TOKENIZER_MODEL_MISMATCH\]: tokenizer 'tok' \(for trainer 'sft'\): the tokenizer "big\/tokenizer.json" has 320 tokens but the model 'base' .* has an embedding table of 290/);
  assert.doesNotMatch(r.stdout, /\bran\b/);
  assert.doesNotMatch(r.stderr, /at .*\.js:\d+/, 'no stack trace');
});

test('gradient_checkpointing = true reaches the trainer (1 thread and the worker pool) and trains the same losses', () => {
  const dir = project();
  initTinyModel(dir);
  const lossesWith = (checkpointing: boolean, workers: string): number[] => {
    const out = `out-${workers}-${checkpointing ? 'ckpt' : 'plain'}`;
    writeFileSync(join(dir, 'p.ft'), pipeline({ tokenizer: 'model', model: 'model', trainer: { gradient_checkpointing: checkpointing ? 'true' : undefined, output: `"${out}"` } }));
    const r = runCli(['run', join(dir, 'p.ft'), '--backend', 'cpu', '--workers', workers, '--no-cache']);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(/gradient checkpointing: each decoder layer is recomputed/.test(r.stderr), checkpointing, r.stderr);
    const metrics = parseMetrics(readFileSync(join(dir, out, 'metrics.jsonl'), 'utf8'));
    return metrics.filter((m) => m.loss !== undefined).map((m) => m.loss!);
  };
  for (const workers of ['1', '2']) {
    const plain = lossesWith(false, workers);
    const ckpt = lossesWith(true, workers);
    assert.equal(ckpt.length, plain.length);
    // Recomputation runs the same ops on the same inputs: equal to float tolerance.
    for (let i = 0; i < plain.length; i++) assert.ok(Math.abs(ckpt[i]! - plain[i]!) < 1e-5, `workers ${workers}, log ${i}: ${ckpt[i]} vs ${plain[i]}`);
  }
});
