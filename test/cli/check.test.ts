import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { runCli, tempDir } from '../helpers.js';

const GOOD = `pipeline p {
  seed = 1
}
data raw {
  source = "d.json"
}
preprocess prompts {
  input    = raw
  template = alpaca
}
`;

function files(): { dir: string; good: string; bad: string } {
  const dir = tempDir();
  writeFileSync(join(dir, 'd.json'), '[]');
  writeFileSync(join(dir, 'good.ft'), GOOD);
  writeFileSync(join(dir, 'bad.ft'), GOOD.replace('template = alpaca', 'template = alpacca\n  dedup = true'));
  return { dir, good: join(dir, 'good.ft'), bad: join(dir, 'bad.ft') };
}

test('ftc check: a clean file exits 0', () => {
  const { good } = files();
  const r = runCli(['check', good]);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /ok/);
});

test('ftc check: text output with the source line and a caret under the range, exit 1', () => {
  const { dir } = files();
  const r = runCli(['check', 'bad.ft'], { cwd: dir });
  assert.equal(r.status, 1);
  assert.equal(
    r.stderr,
    "bad.ft:9:14: error[E0105]: preprocess 'prompts': template must be one of custom, alpaca, chat (got alpacca). Did you mean `alpaca`?\n" +
      '  9 |   template = alpacca\n' +
      '    |              ^~~~~~~\n' +
      "bad.ft:10:3: error[E0102]: preprocess 'prompts' has no key `dedup`. Did you mean `dedupe`?\n" +
      '  10 |   dedup = true\n' +
      '     |   ^~~~~\n' +
      '2 errors\n',
  );
});

test('ftc check --format json', () => {
  const { dir } = files();
  const r = runCli(['check', '--format', 'json', 'bad.ft', 'good.ft'], { cwd: dir });
  assert.equal(r.status, 1);
  const out = JSON.parse(r.stdout);
  assert.deepEqual(out.diagnostics[1], {
    file: 'bad.ft',
    line: 10,
    column: 3,
    endLine: 10,
    endColumn: 8,
    severity: 'error',
    code: 'E0102',
    message: "preprocess 'prompts' has no key `dedup`. Did you mean `dedupe`?",
  });
});

test('ftc check --format sarif is SARIF 2.1.0 with rules and regions', () => {
  const { dir } = files();
  const r = runCli(['check', '--format', 'sarif', 'bad.ft', '--set', 'raw.limit=0'], { cwd: dir });
  assert.equal(r.status, 1);
  const s = JSON.parse(r.stdout);
  assert.equal(s.version, '2.1.0');
  const run = s.runs[0];
  assert.equal(run.tool.driver.name, 'ftc');
  assert.deepEqual(run.tool.driver.rules.map((x: { id: string }) => x.id), ['E0102', 'E0104', 'E0105']);
  assert.equal(run.results.length, 3);
  const res = run.results.find((x: { ruleId: string }) => x.ruleId === 'E0104');
  assert.equal(res.level, 'error');
  assert.equal(run.tool.driver.rules[res.ruleIndex].id, 'E0104');
  assert.deepEqual(res.locations[0].physicalLocation, { artifactLocation: { uri: '<--set>' }, region: { startLine: 1, startColumn: 11, endLine: 1, endColumn: 12 } });
});

test('ftc check: usage errors exit 2 (no file, unknown format, unreadable file)', () => {
  const { dir } = files();
  assert.equal(runCli(['check'], { cwd: dir }).status, 2);
  assert.equal(runCli(['check', '--format', 'xml', 'good.ft'], { cwd: dir }).status, 2);
  const missing = runCli(['check', 'nope.ft'], { cwd: dir });
  assert.equal(missing.status, 2);
  assert.match(missing.stderr, /nope\.ft: error\[E0300\]/);
});

test('ftc plan --format json and ftc graph', () => {
  const { good } = files();
  const plan = runCli(['plan', good, '--format', 'json', '--set', 'prompts.eval_split=0.1']);
  assert.equal(plan.status, 0, plan.stderr);
  const out = JSON.parse(plan.stdout);
  assert.deepEqual(out.stages.map((s: { name: string; inputs: string[] }) => [s.name, s.inputs]), [['raw', []], ['prompts', ['raw']]]);
  assert.equal(out.stages[1].params.eval_split, 0.1);
  assert.match(out.stages[0].key, /^[0-9a-f]{64}$/);
  const graph = runCli(['graph', good, '--format', 'mermaid']);
  assert.equal(graph.stdout, 'graph LR\n    raw["data: raw"]\n    prompts["preprocess: prompts"]\n    raw --> prompts\n');
});

test('ftc check --target: nf4 passes for ftc run (the default) and for the accelerate job; an unknown target is refused', () => {
  const dir = tempDir();
  writeFileSync(join(dir, 'd.json'), '[]');
  const text = `${GOOD}model base {\n  path = "m"\n}\nlora adapter {\n  model        = base\n  quantization = nf4\n}\n`;
  writeFileSync(join(dir, 'q.ft'), text);
  // No model directory is needed for this fact: check it without files.
  const run = runCli(['check', '--no-check-files', 'q.ft'], { cwd: dir });
  assert.equal(run.status, 0, run.stderr);
  assert.doesNotMatch(run.stderr, /E_LORA_QUANTIZATION|W0303/);
  const acc = runCli(['check', '--no-check-files', '--target', 'accelerate', 'q.ft'], { cwd: dir });
  assert.equal(acc.status, 0, acc.stderr);
  assert.doesNotMatch(acc.stderr, /E_LORA_QUANTIZATION|W0303/);
  assert.notEqual(runCli(['check', '--target', 'tpu', 'q.ft'], { cwd: dir }).status, 0);
});

test('ftc generate PIPELINE prints every diagnostic of a broken pipeline (compiled in the CLI), exit 1', () => {
  const { dir } = files();
  writeFileSync(join(dir, 'two.ft'), GOOD.replace('template = alpaca', 'template = alpacca\n  dedup = true'));
  const r = runCli(['generate', 'two.ft', '--prompt', 'hi'], { cwd: dir });
  assert.equal(r.status, 1, r.stderr);
  assert.match(r.stderr, /two\.ft:9:14: error\[E0105\]/);
  assert.match(r.stderr, /two\.ft:10:3: error\[E0102\]/);
  assert.doesNotMatch(r.stderr, /at .*\.js:\d+/);
});

/** A pipeline training a model of the given config.json on wasm; only config.json is needed for check and plan. */
function memoryWorkspace(config: Record<string, unknown>, trainer: { batch_size: number; max_length: number }): { dir: string; text: string } {
  const dir = tempDir();
  mkdirSync(join(dir, 'm'));
  writeFileSync(join(dir, 'm', 'config.json'), JSON.stringify(config));
  writeFileSync(join(dir, 'd.json'), '[{"instruction":"a","output":"b"}]');
  const text = `pipeline p {\n  backend = wasm\n  workers = 1\n}\ndata raw {\n  source = "d.json"\n}\npreprocess prompts {\n  input    = raw\n  template = alpaca\n}\n`
    + `tokenizer tok {\n  input      = prompts\n  train {\n    vocab_size = 300\n  }\n  max_length = ${trainer.max_length}\n}\nmodel base {\n  path = "m"\n}\n`
    + `lora adapter {\n  model = base\n}\ntrainer sft {\n  model      = adapter\n  data       = tok\n  batch_size = ${trainer.batch_size}\n  output     = "out"\n}\n`;
  writeFileSync(join(dir, 'p.ft'), text);
  return { dir, text };
}

/** 1-based line:column of the first occurrence of `needle` in `text`. */
function at(text: string, needle: string): string {
  const before = text.slice(0, text.indexOf(needle)).split('\n');
  return `${before.length}:${before[before.length - 1]!.length + 1}`;
}

const TINYLLAMA = {
  architectures: ['LlamaForCausalLM'], hidden_size: 2048, intermediate_size: 5632, num_hidden_layers: 22, num_attention_heads: 32,
  num_key_value_heads: 4, vocab_size: 32000, max_position_embeddings: 2048, torch_dtype: 'float16', bos_token_id: 1, eos_token_id: 2,
};
const LLAMA2_7B = {
  architectures: ['LlamaForCausalLM'], hidden_size: 4096, intermediate_size: 11008, num_hidden_layers: 32, num_attention_heads: 32,
  num_key_value_heads: 32, vocab_size: 32000, max_position_embeddings: 4096, torch_dtype: 'float16', bos_token_id: 1, eos_token_id: 2,
};
const QWEN_05B = {
  architectures: ['Qwen2ForCausalLM'], hidden_size: 896, intermediate_size: 4864, num_hidden_layers: 24, num_attention_heads: 14,
  num_key_value_heads: 2, vocab_size: 151936, tie_word_embeddings: true, max_position_embeddings: 32768, bos_token_id: 151643, eos_token_id: 151643,
};

test('ftc check: TinyLlama-1.1B on wasm at batch 8 × 2048 does not fit (F16 linears and embed_tokens held 16-bit): its weights fit, so it is reported at max_length with what would fit', () => {
  const { dir, text } = memoryWorkspace(TINYLLAMA, { batch_size: 8, max_length: 2048 });
  const r = runCli(['check', 'p.ft'], { cwd: dir });
  assert.equal(r.status, 1, r.stderr);
  // Activations are linear in T (fused attention), so no one change is enough but all of them together are, at 2048.
  const line = new RegExp(`^p\\.ft:${at(text, '2048')}: error\\[E_MEMORY_PLAN\\]: trainer 'sft' does not fit in memory on wasm .*weights 2098 MiB in float16.*Would fit: batch_size = 1, gradient_checkpointing = true, quantization = nf4 together \\(`, 'm');
  assert.ok(line.exec(r.stderr), r.stderr);
  // What it says fits does (ftc run trains nf4): with those settings the pipeline checks clean.
  const fitted = ['--set', 'sft.batch_size=1', '--set', 'sft.gradient_checkpointing=true', '--set', 'adapter.quantization=nf4'];
  const ok = runCli(['check', 'p.ft', ...fitted, '--format', 'json'], { cwd: dir });
  assert.deepEqual(JSON.parse(ok.stdout).diagnostics.map((d: { code: string }) => d.code), []);
  const notAll = runCli(['check', 'p.ft', ...fitted.slice(0, 4), '--format', 'json'], { cwd: dir });
  assert.deepEqual(JSON.parse(notAll.stdout).diagnostics.map((d: { code: string }) => d.code), ['E_MEMORY_PLAN'], 'without nf4 it does not');
  const plan = runCli(['plan', 'p.ft', ...fitted], { cwd: dir });
  assert.equal(plan.status, 0, plan.stderr);
  assert.match(plan.stdout, /placement +resident: 4-bit linears in the heap/);
});

test('ftc plan: Llama-2-7B in nf4 at batch 1 × 512 streams its 4-bit linears from the host, and says what resident would need', () => {
  const { dir } = memoryWorkspace(LLAMA2_7B, { batch_size: 1, max_length: 512 });
  const fitted = ['--set', 'sft.gradient_checkpointing=true', '--set', 'adapter.quantization=nf4'];
  const over = runCli(['check', 'p.ft', '--format', 'json'], { cwd: dir });
  assert.deepEqual(JSON.parse(over.stdout).diagnostics.map((d: { code: string }) => d.code), ['E_MEMORY_PLAN'], 'float16 weights alone are past the heap');
  const ok = runCli(['check', 'p.ft', ...fitted, '--format', 'json'], { cwd: dir });
  assert.deepEqual(JSON.parse(ok.stdout).diagnostics.map((d: { code: string }) => d.code), []);
  const plan = runCli(['plan', 'p.ft', ...fitted], { cwd: dir });
  assert.equal(plan.status, 0, plan.stderr);
  assert.match(plan.stdout, /placement +streamed: 4-bit linears on the host \(\d+ MiB\), staged into the heap one at a time; resident would need \d+ MiB per worker/);
});

test('ftc check: Qwen2.5-0.5B at batch 2 × 128 is reported at max_length with the longest that fits; that one checks clean; ftc plan prints both', () => {
  const { dir, text } = memoryWorkspace(QWEN_05B, { batch_size: 2, max_length: 128 });
  const r = runCli(['check', 'p.ft'], { cwd: dir });
  assert.equal(r.status, 1, r.stderr);
  const m = new RegExp(`^p\\.ft:${at(text, '128')}: error\\[E_MEMORY_PLAN\\]: .*Would fit: max_length = (\\d+) \\(~\\d+ MiB per worker\\); batch_size = 1 \\(.*\\); gradient_checkpointing = true`, 'm').exec(r.stderr);
  assert.ok(m, r.stderr);
  const ok = runCli(['check', 'p.ft', '--set', `tok.max_length=${m[1]}`], { cwd: dir });
  assert.equal(ok.status, 0, ok.stderr);
  const fits = runCli(['plan', 'p.ft', '--set', `tok.max_length=${m[1]}`], { cwd: dir });
  assert.equal(fits.status, 0, fits.stderr);
  assert.match(fits.stdout, new RegExp(`memory on wasm, 1 worker \\(batch 2, max_length ${m[1]}\\):\\n +weights +1885 MiB \\(float32\\)\\n`));
  assert.match(fits.stdout, /per worker +\d+ MiB \(heap limit 4096 MiB\): fits/);
  const over = runCli(['plan', 'p.ft', '--format', 'json'], { cwd: dir });
  assert.equal(over.status, 1, 'the error is printed and counted');
  const sft = JSON.parse(over.stdout).stages.find((s: { name: string }) => s.name === 'sft');
  assert.equal(sft.memory.fits, false);
  assert.equal(sft.memory.backend, 'wasm');
  assert.equal(sft.memory.weights, 494_032_768 * 4, 'the published parameter count, in float32');
});
