/**
 * QLoRA end to end through `ftc run` on the wasm backend (the 4-bit kernels): on a tiny model, training with
 * quantization = nf4 (double quantization) lowers the loss, and its final eval loss is close to the same run on the
 * full-precision base; the adapter carries quantization_config.json; and `ftc export --format merged` writes a model
 * whose logits equal the QLoRA model's (adapter merged into the dequantized base).
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { initBackend } from '../../../src/runtime/backend.js';
import { loadCausalLM } from '../../../src/runtime/model/causal-lm.js';
import * as tf from '../../../src/runtime/tf.js';
import { runCli, tempDir } from '../../helpers.js';
import { CORPUS } from '../export/fixture.js';

function pipeline(quantized: boolean, out: string): string {
  return `pipeline tiny {
  seed = 1
}
data raw {
  source = "data.json"
}
preprocess prompts {
  input      = raw
  prompt     = "{instruction}"
  response   = "{output}"
  eval_split = 0.25
}
tokenizer tok {
  input      = prompts
  vocab      = "model/tokenizer.json"
  max_length = 128
}
model base {
  path = "model"
}
lora adapter {
  model          = base
  r              = 4
  alpha          = 8
  target_modules = all-linear${quantized ? '\n  quantization   = nf4\n  double_quant   = true' : ''}
}
trainer sft {
  model      = adapter
  data       = tok
  batch_size = 4
  max_steps  = 25
  lr         = 2e-2
  eval_every = 25
  log_every  = 1
  output     = "${out}"
}
`;
}

interface Record_ { step: number; loss?: number; eval_loss?: number }

function metrics(dir: string): Record_[] {
  return readFileSync(join(dir, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record_);
}

test('QLoRA (nf4, double quant) trains on wasm: loss falls, eval loss near the full-precision base\'s; export merges into the dequantized base', async (t) => {
  const dir = tempDir();
  const rows = Array.from({ length: 16 }, (_, i) => ({ instruction: CORPUS[i % 4]!.split('?')[0]!, output: CORPUS[(i + 1) % 4]!.slice(0, 40) }));
  writeFileSync(join(dir, 'data.json'), JSON.stringify(rows));
  const init = runCli(['init-model', 'model', '--layers', '2', '--hidden', '64', '--heads', '4', '--kv-heads', '2', '--ffn', '96',
    '--vocab', '300', '--max-positions', '128', '--corpus', 'data.json'], { cwd: dir });
  assert.equal(init.status, 0, init.stderr);
  const env = { FTC_CACHE_DIR: join(dir, 'cache') };
  const results: Record<string, Record_[]> = {};
  for (const [name, q] of [['nf4', true], ['full', false]] as const) {
    writeFileSync(join(dir, `${name}.ft`), pipeline(q, name));
    const r = runCli(['run', `${name}.ft`, '--backend', 'wasm', '--workers', '1'], { cwd: dir, env });
    assert.equal(r.status, 0, r.stderr);
    if (q) assert.match(r.stdout + r.stderr, /quantized 14 linear weights to nf4 \(double quantization\)/);
    results[name] = metrics(join(dir, name));
  }
  const losses = results.nf4!.filter((m) => m.loss !== undefined).map((m) => m.loss!);
  const first = losses.slice(0, 3).reduce((a, b) => a + b) / 3;
  const last = losses.slice(-3).reduce((a, b) => a + b) / 3;
  assert.ok(last < first - 0.5, `nf4 training loss falls: first steps ${first.toFixed(3)}, last ${last.toFixed(3)}`);
  const evalOf = (m: Record_[]) => m.filter((x) => x.eval_loss !== undefined).at(-1)!.eval_loss!;
  const [evalNf4, evalFull] = [evalOf(results.nf4!), evalOf(results.full!)];
  assert.ok(Math.abs(evalNf4 - evalFull) < 0.1 * evalFull, `eval loss nf4 ${evalNf4} vs full-precision base ${evalFull}`);
  t.diagnostic(`nf4 loss ${first.toFixed(3)} → ${last.toFixed(3)}; eval loss nf4 ${evalNf4.toFixed(4)}, full-precision base ${evalFull.toFixed(4)}`);
  assert.ok(existsSync(join(dir, 'nf4', 'quantization_config.json')));
  assert.ok(!existsSync(join(dir, 'full', 'quantization_config.json')));

  // A second run of the same pipeline is cached: the 4-bit base was made once.
  const again = runCli(['run', 'nf4.ft', '--backend', 'wasm', '--workers', '1'], { cwd: dir, env });
  assert.match(again.stdout, /cached\s+adapter/);

  // Generating from the pipeline reads that cached base instead of quantizing again; the tokens are those of a load
  // that quantizes (an explicit --model/--adapter, and the pipeline with an empty cache).
  const gen = (args: string[], cache = env.FTC_CACHE_DIR) =>
    runCli(['generate', ...args, '--raw', '--prompt', CORPUS[0]!.slice(0, 20), '--max-new-tokens', '8', '--backend', 'wasm'], { cwd: dir, env: { FTC_CACHE_DIR: cache } });
  const fromCache = gen(['nf4.ft']);
  assert.equal(fromCache.status, 0, fromCache.stderr);
  assert.match(fromCache.stderr, /4-bit base read from the cache of `ftc run`/);
  for (const other of [gen(['--model', 'model', '--adapter', 'nf4']), gen(['nf4.ft'], join(dir, 'empty-cache'))]) {
    assert.equal(other.status, 0, other.stderr);
    assert.doesNotMatch(other.stderr, /read from the cache/);
    assert.equal(other.stdout, fromCache.stdout);
  }
  assert.doesNotMatch(gen(['full.ft']).stderr, /read from the cache/);

  // Export: merged weights = dequantize(quantize(W)) + ΔW, so the plain merged model computes the QLoRA model.
  const exp = runCli(['export', '--model', 'model', '--adapter', 'nf4', '--format', 'merged', '--dtype', 'f32', '--out', 'merged'], { cwd: dir });
  assert.equal(exp.status, 0, exp.stderr);
  await initBackend('cpu');
  const ids = [[1, 5, 9, 33, 70, 2]];
  const logits = (m: ReturnType<typeof loadCausalLM>) => {
    const out = tf.tidy(() => m.forward(tf.tensor2d(ids, [1, 6], 'int32')).dataSync() as Float32Array);
    m.dispose();
    return out;
  };
  const qlora = logits(loadCausalLM(join(dir, 'model'), { adapterDir: join(dir, 'nf4') }));
  const merged = logits(loadCausalLM(join(dir, 'merged')));
  const unquantized = logits(loadCausalLM(join(dir, 'model'), { adapterDir: join(dir, 'full') }));
  let worst = 0;
  let apart = 0;
  qlora.forEach((v, i) => { worst = Math.max(worst, Math.abs(v - merged[i]!)); apart = Math.max(apart, Math.abs(v - unquantized[i]!)); });
  t.diagnostic(`merged export vs QLoRA model: max |Δlogit| ${worst.toExponential(2)}; nf4 vs full-precision adapter ${apart.toFixed(3)}`);
  assert.ok(worst < 1e-4, `merged export vs QLoRA model: max |Δlogit| ${worst}`);
  assert.ok(apart > 1e-3, 'the nf4 and full-precision runs are different models');
});
