import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { compileFile } from '../../src/compiler/index.js';
import { runCli } from '../helpers.js';
import { CORPUS_DIR, corpusWorkspace } from './corpus-fixture.js';

// Each broken pipeline NAME.ft comes with NAME.expected.json: every diagnostic it must produce, as
// {code, line, column}, and nothing else. Expectations were written from the text, not from output.
const names = readdirSync(CORPUS_DIR)
  .filter((f) => f.endsWith('.ft'))
  .map((f) => f.slice(0, -3))
  .sort();
const workspace = corpusWorkspace();

type Expected = { code: string; line: number; column: number };
const key = (d: Expected) => `${d.code}@${d.line}:${d.column}`;
const expected = (name: string): string[] => (JSON.parse(readFileSync(join(CORPUS_DIR, `${name}.expected.json`), 'utf8')) as Expected[]).map(key).sort();

test('the corpus holds at least 30 broken pipelines', () => {
  assert.ok(names.length >= 30, `only ${names.length}`);
  for (const n of names) assert.ok(expected(n).length > 0, `${n} expects no diagnostics`);
});

for (const name of names) {
  test(`corpus: ${name}`, () => {
    const r = compileFile(join(workspace, `${name}.ft`));
    assert.deepEqual(r.diagnostics.map(key).sort(), expected(name), r.diagnostics.map((d) => `${key(d)} ${d.message}`).join('\n'));
    assert.equal(r.ir, r.diagnostics.some((d) => d.severity === 'error') ? undefined : r.ir);
    for (const d of r.diagnostics) {
      assert.ok(d.endLine > d.line || (d.endLine === d.line && d.endColumn >= d.column), `${key(d)} has an inverted range`);
      assert.ok(d.message.length > 10);
    }
  });
}

test('corpus through the CLI: ftc check --format json reports the same, exit 1, no stack trace', () => {
  const files = names.map((n) => join(workspace, `${n}.ft`));
  const res = runCli(['check', '--format', 'json', ...files]);
  assert.equal(res.status, 1, res.stderr);
  assert.doesNotMatch(res.stderr, /internal error|at .*\.js:\d+/);
  const out = JSON.parse(res.stdout) as { diagnostics: (Expected & { file: string })[] };
  for (const name of names) {
    const file = join(workspace, `${name}.ft`);
    const got = out.diagnostics.filter((d) => d.file === file).map(key).sort();
    assert.deepEqual(got, expected(name), name);
  }
});
