/**
 * `trainer { model = base }` end to end through `ftc run`: full fine-tuning writes a Hugging Face model
 * directory that ftc reads back as a model (generate, export), train_modules leaves every other weight
 * bit-identical to the base, and a run killed after a checkpoint resumes to the same losses.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { readSafetensors, readSafetensorsHeader } from '../../../src/runtime/model/safetensors.js';
import { OUTPUT_MARK } from '../../../src/runtime/output-mark.js';
import { parseMetrics } from '../../../src/runtime/train/metrics.js';
import { repoRoot, runCli, tempDir } from '../../helpers.js';
import { colourRows, initTinyModel, type Keys, tinyPipeline, writeRows } from '../../tiny-project.js';

/** A tiny model (untied embeddings, 2 layers) and a full fine-tuning pipeline over it; `trainer` adds trainer keys. */
function setup(trainer: Keys = {}, tail = ''): string {
  const dir = tempDir('ftc-fullft-');
  writeRows(dir, colourRows(40));
  initTinyModel(dir, { layers: 2 });
  writeFileSync(join(dir, 'p.ft'), tinyPipeline({
    preprocess: { eval_split: 0.2 },
    lora: false,
    trainer: { max_steps: 10, lr: '1e-3', weight_decay: 0.01, log_every: 1, save_every: 4, ...trainer },
    tail,
  }));
  return dir;
}

const losses = (out: string) => parseMetrics(readFileSync(join(out, 'metrics.jsonl'), 'utf8')).filter((m) => m.loss !== undefined).map((m) => [m.step, m.loss]);

test('full fine-tuning writes an HF model directory (config.json, float32 model.safetensors with every weight, tokenizer files), marked as ftc\'s, that generate and export read as a model', () => {
  const dir = setup({}, 'export gguf {\n  model  = sft\n  format = gguf\n  dtype  = f16\n  output = "tuned.gguf"\n}\n');
  const r = runCli(['run', 'p.ft', '--backend', 'cpu', '--workers', '1'], { cwd: dir });
  assert.equal(r.status, 0, r.stderr);
  const out = join(dir, 'out');
  for (const f of ['config.json', 'model.safetensors', 'tokenizer.json', 'tokenizer_config.json', 'metrics.jsonl', 'report.html']) assert.ok(existsSync(join(out, f)), f);
  assert.ok(!existsSync(join(out, 'adapter_config.json')));
  const mark = JSON.parse(readFileSync(join(out, OUTPUT_MARK), 'utf8'));
  assert.equal(mark.written_by, 'ftc');
  assert.ok(mark.files.some((f: { path: string }) => f.path === 'model.safetensors'));
  assert.equal(JSON.parse(readFileSync(join(out, 'config.json'), 'utf8')).dtype, 'float32');

  const header = readSafetensorsHeader(join(out, 'model.safetensors'));
  const base = readSafetensorsHeader(join(dir, 'model', 'model.safetensors'));
  assert.deepEqual([...header.tensors.keys()].sort(), [...base.tensors.keys()].sort(), 'the same tensors as the base');
  assert.ok([...header.tensors.values()].every((t) => t.dtype === 'F32'));
  // Every weight trained: none equals the base any more.
  const tuned = readSafetensors(join(out, 'model.safetensors'));
  const orig = readSafetensors(join(dir, 'model', 'model.safetensors'));
  for (const [name, t] of tuned) assert.ok(t.data.some((x, i) => x !== orig.get(name)!.data[i]), `${name} changed`);
  assert.match(readFileSync(join(out, 'report.html'), 'utf8'), /full_fine_tuning/);

  // ftc generate on the pipeline uses the trained model (the trainer's output) as the model.
  const g = runCli(['generate', 'p.ft', '--raw', '--prompt', 'What color is the sky?', '--max-new-tokens', '3', '--backend', 'cpu'], { cwd: dir });
  assert.equal(g.status, 0, g.stderr);
  assert.doesNotMatch(g.stderr, /no trained adapter/);
  const direct = runCli(['generate', '--model', out, '--prompt', 'What color is the sky?', '--max-new-tokens', '3', '--backend', 'cpu'], { cwd: dir });
  assert.equal(direct.status, 0, direct.stderr);
  assert.equal(g.stdout, direct.stdout);
  // The export stage wrote the tuned model as GGUF; `ftc export` without --adapter converts it too.
  assert.ok(existsSync(join(dir, 'tuned.gguf')));
  const e = runCli(['export', '--model', out, '--format', 'merged', '--dtype', 'bf16', '--out', join(dir, 'bf16')]);
  assert.equal(e.status, 0, e.stderr);
  assert.ok([...readSafetensorsHeader(join(dir, 'bf16', 'model.safetensors')).tensors.values()].every((t) => t.dtype === 'BF16'));
  const peft = runCli(['export', '--model', out, '--format', 'peft', '--out', join(dir, 'peft')]);
  assert.equal(peft.status, 1);
  assert.match(peft.stderr, /E_EXPORT_NO_ADAPTER/);
});

test('train_modules: the named modules train, every other weight of the output is bit-identical to the base', () => {
  const dir = setup({ train_modules: '[q_proj, down_proj, norm]' });
  const r = runCli(['run', 'p.ft', '--backend', 'cpu', '--workers', '2'], { cwd: dir });
  assert.equal(r.status, 0, r.stderr);
  const tuned = readSafetensors(join(dir, 'out', 'model.safetensors'));
  const orig = readSafetensors(join(dir, 'model', 'model.safetensors'));
  const trained = (name: string) => /\.(q_proj|down_proj)\.weight$/.test(name) || name === 'model.norm.weight';
  let frozen = 0;
  for (const [name, t] of orig) {
    const got = tuned.get(name)!.data;
    if (trained(name)) assert.ok(got.some((x, i) => x !== t.data[i]), `${name} trained`);
    else {
      assert.deepEqual(got, t.data, `${name} is the base's`);
      frozen++;
    }
  }
  assert.ok(frozen > 10);
});

test('killed after a checkpoint, `ftc run --resume` continues to exactly the losses of an uninterrupted run (2 workers)', { timeout: 300_000 }, async () => {
  const whole = setup();
  const r = runCli(['run', 'p.ft', '--backend', 'cpu', '--workers', '2'], { cwd: whole });
  assert.equal(r.status, 0, r.stderr);
  const expected = losses(join(whole, 'out'));
  assert.equal(expected.length, 10);

  const dir = setup();
  const child = spawn(process.execPath, [join(repoRoot(), 'dist/src/cli/main.js'), 'run', 'p.ft', '--backend', 'cpu', '--workers', '2'],
    { cwd: dir, env: { ...process.env, CI: 'true' } });
  const exited = new Promise<void>((res) => child.on('close', () => res()));
  const state = join(dir, 'out', 'checkpoints', 'step-4', 'trainer_state.json');
  for (let i = 0; i < 6000 && child.exitCode === null && !existsSync(state); i++) await new Promise((res) => setTimeout(res, 10));
  child.kill('SIGKILL');
  await exited;
  assert.ok(existsSync(state), 'the run reached its step-4 checkpoint');
  assert.ok(!existsSync(join(dir, 'out', 'model.safetensors')), 'killed before it finished');
  assert.ok(existsSync(join(dir, 'out', 'checkpoints', 'step-4', 'model.safetensors')), 'the checkpoint holds the trained weights');

  const resumed = runCli(['run', 'p.ft', '--backend', 'cpu', '--workers', '2', '--resume'], { cwd: dir });
  assert.equal(resumed.status, 0, resumed.stderr);
  assert.match(resumed.stderr, /resuming from checkpoint step [48]/);
  assert.deepEqual(losses(join(dir, 'out')), expected);
  assert.deepEqual(readSafetensors(join(dir, 'out', 'model.safetensors')), readSafetensors(join(whole, 'out', 'model.safetensors')));
});

test('the data-parallel pool trains the full model to the losses of one thread (up to float rounding of the gradient sum)', () => {
  const dir = setup();
  const run = (workers: string) => {
    const r = runCli(['run', 'p.ft', '--backend', 'cpu', '--workers', workers, '--no-cache'], { cwd: dir });
    assert.equal(r.status, 0, r.stderr);
    return losses(join(dir, 'out'));
  };
  const one = run('1');
  const two = run('2');
  assert.equal(two.length, one.length);
  for (let i = 0; i < one.length; i++) assert.ok(Math.abs(two[i]![1]! - one[i]![1]!) < 1e-4, `step ${one[i]![0]}: ${two[i]![1]} vs ${one[i]![1]}`);
});
