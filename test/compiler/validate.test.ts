import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import type { FileNode } from '../../src/compiler/ast.js';
import type { SourceRange } from '../../src/compiler/diagnostics.js';
import { compile } from '../../src/compiler/index.js';
import { validate } from '../../src/compiler/validate/index.js';
import { editDistance } from '../../src/compiler/validate/suggest.js';
import { smallLlamaConfig, tempDir } from '../helpers.js';

const PIPELINE = `pipeline p {
  seed = 7
}
data raw {
  source = "d.json"
}
preprocess prompts {
  input    = raw
  prompt   = "{q}"
  response = "{a}"
}
tokenizer tok {
  input = prompts
  train = { vocab_size = 512 }
}
model base {
  path = "m"
}
lora adapter {
  model = base
}
trainer sft {
  model  = adapter
  data   = tok
  output = "out"
}
`;

const check = (text: string) => compile(text, '/x/p.ft', { checkFiles: false }).diagnostics;
const messages = (text: string) => check(text).map((d) => `${d.code} ${d.message}`);

test('a valid pipeline has no diagnostics and an IR', () => {
  const r = compile(PIPELINE, '/x/p.ft', { checkFiles: false });
  assert.deepEqual(r.diagnostics, []);
  assert.ok(r.ir);
});

test('unknown block kind lists the known kinds', () => {
  assert.deepEqual(messages(PIPELINE.replace('lora adapter', 'lroa adapter')), [
    'E0101 Unknown block kind `lroa`. Did you mean `lora`? Known kinds: pipeline, data, preprocess, tokenizer, model, lora, trainer, export.',
  ]);
});

test('unknown keys suggest the closest key, or the ftc name of a Hugging Face key', () => {
  assert.deepEqual(messages(PIPELINE.replace('  output = "out"', '  output = "out"\n  epohcs = 2\n  learning_rate = 1e-4')), [
    "E0102 trainer 'sft' has no key `epohcs`. Did you mean `epochs`?",
    "E0102 trainer 'sft' has no key `learning_rate`. Did you mean `lr`? (ftc's name for learning_rate)",
  ]);
});

test('value errors say what the key accepts, and point at the value', () => {
  const ds = check(PIPELINE.replace('  model = base\n}', '  model = base\n  r = 0\n  bias = nope\n  target_modules = [q_proj, zz]\n}'));
  assert.deepEqual(
    ds.map((d) => [d.code, d.line, d.column, d.endColumn, d.message]),
    [
      ['E0104', 21, 7, 8, "lora 'adapter': r must be an integer ≥ 1 (got 0)."],
      ['E0105', 22, 10, 14, "lora 'adapter': bias must be one of none, all, lora_only (got nope). Did you mean `none`?"],
      [
        'E0105',
        23,
        29,
        31,
        "lora 'adapter': target_modules[1] must be one of q_proj, k_proj, v_proj, o_proj, gate_proj, up_proj, down_proj (got zz).",
      ],
    ],
  );
});

test('an identifier is accepted where the schema says string or enum', () => {
  assert.deepEqual(check(PIPELINE.replace('output = "out"', 'output = out\n  precision = bf16')), []);
});

test('references: unresolved, wrong kind (the message of the brief), quoted', () => {
  assert.deepEqual(messages(PIPELINE.replace('  model  = adapter', '  model  = tok')).filter((m) => m.startsWith('E')), [
    "E0202 trainer 'sft': model must name a lora or a model stage, but 'tok' is a tokenizer.",
  ]);
  assert.match(messages(PIPELINE.replace('input = prompts', 'input = prompt')).find((m) => m.startsWith('E'))!, /^E0201 .*'prompt'.*Did you mean 'prompts'\?/);
  assert.deepEqual(messages(PIPELINE.replace('model = base', 'model = "base"')), [
    "E0205 lora 'adapter': model names a stage, so write it without quotes: `model = base`.",
  ]);
});

test('duplicate stage names and cycles are named', () => {
  const dup = PIPELINE + 'data raw {\n  source = "e.json"\n}\n';
  assert.deepEqual(messages(dup), ["E0203 Stage name 'raw' is already used by the data stage on line 4; rename one of them."]);
  const cyc = PIPELINE.replace('input    = raw', 'input    = again') + 'preprocess again {\n  input = prompts\n  template = alpaca\n}\n';
  const ds = check(cyc).filter((d) => d.code === 'E0204');
  assert.equal(ds.length, 1);
  assert.match(ds[0]!.message, /^Cycle: prompts → again → prompts\./);
});

test('header: missing is a warning with the defaults, two are an error', () => {
  const noHeader = PIPELINE.replace('pipeline p {\n  seed = 7\n}\n', '');
  const r = compile(noHeader, '/x/alpaca.ft.yaml', { checkFiles: false });
  // (parsed as YAML it is not a pipeline; the .ft name below is the real case)
  assert.ok(r.diagnostics.length > 0);
  const ft = compile(noHeader, '/x/alpaca.ft', { checkFiles: false });
  assert.deepEqual(ft.diagnostics.map((d) => d.code), ['W0101']);
  assert.equal(ft.ir?.name, 'alpaca');
  assert.equal(ft.ir?.seed, 42);
  assert.deepEqual(messages(PIPELINE + 'pipeline q {\n}\n').map((m) => m.slice(0, 5)), ['E0109']);
});

test('files: missing, dir vs file, relative to the pipeline directory; config.json cross-checks', () => {
  const dir = tempDir();
  writeFileSync(join(dir, 'd.json'), '[]');
  mkdirSync(join(dir, 'm'));
  writeFileSync(join(dir, 'm', 'config.json'), smallLlamaConfig(128));
  const file = join(dir, 'p.ft');
  const codes = (text: string) => compile(text, file).diagnostics.map((d) => d.code);
  // max_length defaults to 512 > 128
  assert.deepEqual(codes(PIPELINE), ['E0306']);
  assert.deepEqual(codes(PIPELINE.replace('  input = prompts', '  input = prompts\n  max_length = 128')), []);
  assert.deepEqual(codes(PIPELINE.replace('"d.json"', '"nope.json"').replace('  input = prompts', '  input = prompts\n  max_length = 64')), ['E0301']);
  assert.deepEqual(codes(PIPELINE.replace('"m"', '"d.json"').replace('  input = prompts', '  input = prompts\n  max_length = 64')), ['E0302']);
  // checkFiles: false skips the file system entirely
  assert.deepEqual(compile(PIPELINE.replace('"d.json"', '"nope.json"'), file, { checkFiles: false }).diagnostics, []);
});

test('tokenizer: vocab xor train', () => {
  assert.deepEqual(messages(PIPELINE.replace('  train = { vocab_size = 512 }\n', '')).map((m) => m.slice(0, 5)), ['E0309']);
  assert.deepEqual(messages(PIPELINE.replace('  train =', '  vocab = "t.json"\n  train =')).map((m) => m.slice(0, 5)), ['E0308']);
});

test('a prompt template ending in a space or tab is W0151 at the prompt; one ending in a newline or colon is not', () => {
  for (const ending of [' ', '\\t']) {
    const d = check(PIPELINE.replace('prompt   = "{q}"', `prompt   = "Q: {q}\\nA:${ending}"`));
    assert.deepEqual(d.map((x) => [x.severity, x.code, x.line, x.column]), [['warning', 'W0151', 9, 14]]);
    assert.match(d[0]!.message, /never trained/);
  }
  for (const ending of ['\\n', ':']) assert.deepEqual(check(PIPELINE.replace('prompt   = "{q}"', `prompt   = "Q: {q}\\nA${ending}"`)), []);
});

test('validate never throws on odd hand-built ASTs', () => {
  const r: SourceRange = { line: 1, column: 1, endLine: 1, endColumn: 2 };
  const ast: FileNode = {
    file: '/x/odd.ft',
    comments: [],
    stages: [
      { kind: 'trainer', kindRange: r, name: 'constructor', nameRange: r, range: r, entries: [{ key: 'model', keyRange: r, range: r }] },
      { kind: '__proto__', kindRange: r, name: 'toString', nameRange: r, range: r, entries: [{ key: 'x', keyRange: r, range: r, value: { type: 'list', items: [], range: r } }] },
      {
        kind: 'lora',
        kindRange: r,
        name: 'l',
        nameRange: r,
        range: r,
        entries: [
          { key: 'model', keyRange: r, range: r, value: { type: 'block', entries: [], range: r } },
          { key: 'target_modules', keyRange: r, range: r, value: { type: 'block', entries: [{ key: 'a', keyRange: r, range: r }], range: r } },
          { key: 'hasOwnProperty', keyRange: r, range: r, value: { type: 'number', value: 1, raw: '1', range: r } },
        ],
      },
    ],
  };
  const ds = validate(ast, { dir: '/x', checkFiles: true });
  assert.ok(ds.some((d) => d.code === 'E0101'));
  assert.ok(ds.every((d) => d.file === '/x/odd.ft' && /^[EW]\d{4}$/.test(d.code)));
});

test('edit distance', () => {
  assert.equal(editDistance('kitten', 'sitting'), 3);
  assert.equal(editDistance('', 'abc'), 3);
  assert.equal(editDistance('lr', 'lr'), 0);
  assert.equal(editDistance('lroa', 'lora'), 1);
});
