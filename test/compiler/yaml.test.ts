import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseFt } from '../../src/compiler/parse.js';
import { parseYaml } from '../../src/compiler/yaml.js';
import { repoRoot } from '../helpers.js';

/** The AST without positions and file names: what both forms must agree on. */
export function shape(v: unknown): unknown {
  return JSON.parse(JSON.stringify(v, (k, x) => (/range$/i.test(k) || k === 'file' || k === 'comments' ? undefined : x)));
}

test('the example pipeline gives the same AST in .ft and .ft.yaml', () => {
  const ft = parseFt(readFileSync(join(repoRoot(), 'pipelines/alpaca-lora.ft'), 'utf8'), 'a.ft');
  const yaml = parseYaml(readFileSync(join(repoRoot(), 'pipelines/alpaca-lora.ft.yaml'), 'utf8'), 'a.ft.yaml');
  assert.deepEqual(ft.diagnostics, []);
  assert.deepEqual(yaml.diagnostics, []);
  assert.equal(ft.ast.stages.length, 7);
  assert.deepEqual(shape(yaml.ast), shape(ft.ast));
});

test('plain scalars read like .ft tokens, quoted ones are strings; nested maps and lists keep their shape', () => {
  const text = 'stages:\n  t:\n    kind: trainer\n    a: fp16\n    b: "fp16"\n    c: 1_000\n    d: 2e-4\n    e: true\n    f: [x, "y", 3]\n    g: { kind: cosine, n: 1 }\n    h: .5\n    i: some text\n';
  const { ast, diagnostics } = parseYaml(text, 'p.ft.yaml');
  assert.deepEqual(diagnostics, []);
  assert.deepEqual(shape(ast.stages), [
    {
      kind: 'trainer',
      name: 't',
      entries: [
        { key: 'a', value: { type: 'ident', name: 'fp16' } },
        { key: 'b', value: { type: 'string', value: 'fp16' } },
        { key: 'c', value: { type: 'number', value: 1000, raw: '1_000' } },
        { key: 'd', value: { type: 'number', value: 2e-4, raw: '2e-4' } },
        { key: 'e', value: { type: 'boolean', value: true } },
        { key: 'f', value: { type: 'list', items: [{ type: 'ident', name: 'x' }, { type: 'string', value: 'y' }, { type: 'number', value: 3, raw: '3' }] } },
        { key: 'g', value: { type: 'block', entries: [{ key: 'kind', value: { type: 'ident', name: 'cosine' } }, { key: 'n', value: { type: 'number', value: 1, raw: '1' } }] } },
        { key: 'h', value: { type: 'number', value: 0.5, raw: '0.5' } },
        { key: 'i', value: { type: 'string', value: 'some text' } },
      ],
    },
  ]);
});

test('ranges point into the YAML file (1-based, end exclusive)', () => {
  const { ast } = parseYaml('pipeline:\n  name: p\nstages:\n  raw:\n    kind: data\n    source: "x.json"\n', 'p.ft.yaml');
  assert.deepEqual(ast.stages[0].nameRange, { line: 2, column: 9, endLine: 2, endColumn: 10 });
  assert.deepEqual(ast.stages[1].nameRange, { line: 4, column: 3, endLine: 4, endColumn: 6 });
  assert.deepEqual(ast.stages[1].kindRange, { line: 5, column: 11, endLine: 5, endColumn: 15 });
  assert.deepEqual(ast.stages[1].entries[0].value?.range, { line: 6, column: 13, endLine: 6, endColumn: 21 });
});

test('YAML syntax errors and shapes that are not a pipeline are diagnostics, never exceptions', () => {
  const d = (text: string) => parseYaml(text, 'p.ft.yaml').diagnostics.map((x) => `${x.line}:${x.column} ${x.code} ${x.message}`);
  assert.deepEqual(d('stages:\n  a:\n    kind: data\n    k:\n'), ["4:5 E0002 key 'k' has no value"]);
  assert.deepEqual(d('- 1\n- 2\n'), ["1:1 E0003 a pipeline is a mapping with 'pipeline' and 'stages' keys"]);
  assert.deepEqual(d('stages:\n  a:\n    source: x\n'), ["2:3 E0003 stage 'a' needs a 'kind' (data, preprocess, tokenizer, model, lora, trainer, export)"]);
  assert.deepEqual(d('pipeline:\n  seed: 1\nextra: 2\n'), ["1:1 E0003 the pipeline needs a 'name' that is an identifier (letters, digits, '_', '-', '.')", "3:1 E0003 unknown top-level key 'extra': a pipeline has 'pipeline' and 'stages'"]);
  const broken = parseYaml('stages:\n  a: [1, 2\n  b: {\n', 'p.ft.yaml').diagnostics;
  assert.deepEqual(
    broken.filter((x) => x.code === 'E0002').map((x) => `${x.line}:${x.column} ${x.message}`),
    ['3:3 Flow sequence in block collection must be sufficiently indented and end with a ]', '4:1 Flow map in block collection must be sufficiently indented and end with a }'],
  );
});

test('duplicate stage names stay in the AST, so the validator reports them as it does for .ft', () => {
  const { ast, diagnostics } = parseYaml('stages:\n  a:\n    kind: data\n  a:\n    kind: model\n', 'p.ft.yaml');
  assert.deepEqual(diagnostics, []);
  assert.deepEqual(ast.stages.map((s) => `${s.kind} ${s.name}`), ['data a', 'model a']);
});
