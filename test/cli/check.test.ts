import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
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
