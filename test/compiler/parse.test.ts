import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseFt, parseSource } from '../../src/compiler/parse.js';
import { FtParser } from '../../src/compiler/parser.js';
import type { SourceRange } from '../../src/compiler/diagnostics.js';

const r = (line: number, column: number, endLine: number, endColumn: number): SourceRange => ({ line, column, endLine, endColumn });

test('a small pipeline parses to the whole expected AST', () => {
  const text = ['# head', 'lora a {', '  r = 8  # rank', '  target_modules = [q_proj, "v"]', '  sched = { on = true }', '}', ''].join('\n');
  const { ast, diagnostics } = parseFt(text, 'p.ft');
  assert.deepEqual(diagnostics, []);
  assert.deepEqual(ast, {
    file: 'p.ft',
    comments: [
      { text: '# head', range: r(1, 1, 1, 7) },
      { text: '# rank', range: r(3, 10, 3, 16) },
    ],
    stages: [
      {
        kind: 'lora',
        kindRange: r(2, 1, 2, 5),
        name: 'a',
        nameRange: r(2, 6, 2, 7),
        range: r(2, 1, 6, 2),
        entries: [
          { key: 'r', keyRange: r(3, 3, 3, 4), value: { type: 'number', value: 8, raw: '8', range: r(3, 7, 3, 8) }, range: r(3, 3, 3, 8) },
          {
            key: 'target_modules',
            keyRange: r(4, 3, 4, 17),
            value: {
              type: 'list',
              items: [
                { type: 'ident', name: 'q_proj', range: r(4, 21, 4, 27) },
                { type: 'string', value: 'v', range: r(4, 29, 4, 32) },
              ],
              range: r(4, 20, 4, 33),
            },
            range: r(4, 3, 4, 33),
          },
          {
            key: 'sched',
            keyRange: r(5, 3, 5, 8),
            value: {
              type: 'block',
              entries: [{ key: 'on', keyRange: r(5, 13, 5, 15), value: { type: 'boolean', value: true, range: r(5, 18, 5, 22) }, range: r(5, 13, 5, 22) }],
              range: r(5, 11, 5, 24),
            },
            range: r(5, 3, 5, 24),
          },
        ],
      },
    ],
  });
});

test('numbers keep their written form and value; lists take optional and trailing commas', () => {
  const { ast, diagnostics } = parseFt('t x { a = [1_000 2e-4, -3,] }', 'p.ft');
  assert.deepEqual(diagnostics, []);
  const list = ast.stages[0].entries[0].value;
  assert.ok(list?.type === 'list');
  assert.deepEqual(list.items.map((i) => (i.type === 'number' ? [i.raw, i.value] : i.type)), [['1_000', 1000], ['2e-4', 2e-4], ['-3', -3]]);
});

const diag = (text: string) => parseFt(text, 'p.ft').diagnostics.map((d) => `${d.line}:${d.column} ${d.code} ${d.message}`);

test('recovery: a missing }, a missing =, a bad value and a missing name are all reported in one run', () => {
  const text = [
    'data raw {', //                      1
    '  source = "x"', //                  2
    '', //                                3
    'preprocess p {', //                  4  ← raw's '}' is missing
    '  input = raw', //                   5
    '  lr 2e-4', //                       6  ← missing '='
    '  x = = 3', //                       7  ← bad value
    '}', //                               8
    'model {', //                         9  ← missing name
    '  path = "m"', //                    10
    '}',
  ].join('\n');
  assert.deepEqual(diag(text), [
    "4:1 E0002 expected '}' to close the stage, found 'preprocess' (each entry is 'key = value')",
    "6:6 E0002 expected '=' after key 'lr', found '2e-4'",
    "7:7 E0002 expected a value after '=' (a string, number, true/false, identifier, list or block), found '='",
    "9:7 E0002 expected a stage name after 'model', found '{'",
  ]);
  // every stage survives recovery, with the entries that could be read
  const { ast } = parseFt(text, 'p.ft');
  assert.deepEqual(
    ast.stages.map((s) => [s.kind, s.name, s.entries.map((e) => `${e.key}:${e.value?.type ?? 'none'}`)]),
    [
      ['data', 'raw', ['source:string']],
      ['preprocess', 'p', ['input:ident', 'lr:number', 'x:none']],
      ['model', '', ['path:string']],
    ],
  );
});

test('recovery: junk where a key should be, an unclosed list, and end of file inside a block', () => {
  assert.deepEqual(diag('data a { = 3\n  epochs = 3 }\nmodel m { path = "x" }'), ["1:10 E0002 expected a key or '}', found '='"]);
  assert.deepEqual(diag('lora a { t = [q, v\n}\nmodel m { p = ] }'), [
    "2:1 E0002 expected ']' to close the list, found '}'",
    "3:15 E0002 expected a value after '=' (a string, number, true/false, identifier, list or block), found ']'",
  ]);
  assert.deepEqual(diag('data raw { a = 1'), ["1:17 E0002 expected '}' to close the stage, found end of file"]);
});

test('lexing and syntax errors come together, sorted by position', () => {
  assert.deepEqual(diag('data a { x = @ }\nmodel m { p "q" }'), [
    "1:14 E0001 unexpected character '@'",
    "1:16 E0002 expected a value after '=' (a string, number, true/false, identifier, list or block), found '}'",
    '2:13 E0002 expected \'=\' after key \'p\', found string "q"',
  ]);
});

test('an empty file and a file of comments are valid and empty', () => {
  assert.deepEqual(parseFt('', 'e.ft'), { ast: { file: 'e.ft', stages: [], comments: [] }, diagnostics: [] });
  assert.deepEqual(parseFt('# only\n', 'e.ft').ast.stages, []);
});

test('parseSource picks the form by extension', () => {
  assert.equal(parseSource('stages:\n  a:\n    kind: data\n', 'p.ft.yaml').ast.stages[0].kind, 'data');
  assert.equal(parseSource('stages:\n  a:\n    kind: data\n', 'p.yml').ast.stages[0].kind, 'data');
  assert.equal(parseSource('data a {}', 'p.ft').ast.stages[0].name, 'a');
});

// Timing belongs to `npm run bench`; this only guards against super-linear behaviour on a busy machine.
test('a 5,000-stage pipeline parses in linear time (the parser is built once)', () => {
  const text = Array.from({ length: 5000 }, (_, i) => `data d${i} {\n  source = "f${i}.json"\n  limit = ${i}\n}\n`).join('\n');
  parseFt(text, 'big.ft'); // warm up
  const t0 = performance.now();
  const { ast, diagnostics } = parseFt(text, 'big.ft');
  const ms = performance.now() - t0;
  assert.equal(ast.stages.length, 5000);
  assert.deepEqual(diagnostics, []);
  assert.ok(ms < 10_000, `took ${ms} ms`);
});

/** The AST without positions, to compare what two texts mean. */
function shape(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(shape);
  if (v === null || typeof v !== 'object') return v;
  return Object.fromEntries(Object.entries(v).filter(([k]) => !/range$/i.test(k)).map(([k, x]) => [k, shape(x)]));
}

test('`key { ... }` is the same as `key = { ... }`, nested and empty blocks too; `KIND NAME {` still starts a stage', () => {
  const sugar = parseFt('tokenizer tok {\n  train { vocab_size = 4096 opts { a = 1 } none {} }\n}\nmodel m { path = "x" }', 'p.ft');
  const equals = parseFt('tokenizer tok {\n  train = { vocab_size = 4096 opts = { a = 1 } none = {} }\n}\nmodel m { path = "x" }', 'p.ft');
  assert.deepEqual(sugar.diagnostics, []);
  assert.deepEqual(shape(sugar.ast), shape(equals.ast));
  assert.deepEqual(sugar.ast.stages.map((s) => s.kind), ['tokenizer', 'model']);
  const train = sugar.ast.stages[0].entries[0];
  assert.deepEqual([train.keyRange, train.value?.range, train.range], [r(2, 3, 2, 8), r(2, 9, 2, 53), r(2, 3, 2, 53)]);
});

test('recovery: a nested block missing its } does not hide later errors', () => {
  const text = [
    'tokenizer tok {', //           1
    '  train {', //                 2
    '    vocab_size = 512', //      3
    '}', //                         4  ← closes train; tok's '}' is missing
    'model m {', //                 5
    '  path "x"', //                6  ← missing '='
    '}',
    'lora a { r = }', //            8  ← missing value
  ].join('\n');
  assert.deepEqual(diag(text), [
    "5:1 E0002 expected '}' to close the stage, found 'model' (each entry is 'key = value')",
    '6:8 E0002 expected \'=\' after key \'path\', found string "x"',
    "8:14 E0002 expected a value after '=' (a string, number, true/false, identifier, list or block), found '}'",
  ]);
  const { ast } = parseFt(text, 'p.ft');
  assert.deepEqual(ast.stages.map((s) => [s.kind, s.entries.map((e) => `${e.key}:${e.value?.type ?? 'none'}`)]), [
    ['tokenizer', ['train:block']],
    ['model', ['path:string']],
    ['lora', ['r:none']],
  ]);
});

test('the grammar passes Chevrotain\'s own checks (the shared parser skips them at start-up)', () => {
  assert.doesNotThrow(() => new FtParser());
});
