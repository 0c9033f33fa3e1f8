import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { formatFt, formatYaml, quote, toFt } from '../../src/compiler/format.js';
import { parseFt, parseSource } from '../../src/compiler/parse.js';
import { parseYaml } from '../../src/compiler/yaml.js';
import { repoRoot } from '../helpers.js';

const fmt = (text: string) => formatFt(parseFt(text, 'p.ft').ast);

test('messy input formats to the golden canonical text, comments kept in place', () => {
  const messy = [
    '# header',
    '',
    '# about raw',
    'data   raw{source="a\\tb" # on source',
    '      fmt=jsonl}',
    'lora x { target_modules = [q_proj,v_proj ,] alpha=32 r = 8',
    '  scheduler = { kind = cosine warmup=0.1 }',
    '  # before the end',
    '}   # after lora',
    'model m {}',
    '# the end',
  ].join('\n');
  assert.equal(
    fmt(messy),
    [
      '# header',
      '',
      '# about raw',
      'data raw {',
      '  source = "a\\tb"  # on source',
      '  fmt    = jsonl',
      '}',
      '',
      'lora x {',
      '  target_modules = [q_proj, v_proj]',
      '  alpha          = 32',
      '  r              = 8',
      '  scheduler {',
      '    kind   = cosine',
      '    warmup = 0.1',
      '  }',
      '  # before the end',
      '}  # after lora',
      '',
      'model m {}',
      '',
      '# the end',
      '',
    ].join('\n'),
  );
});

test('long lists break one item per line', () => {
  const items = Array.from({ length: 12 }, (_, i) => `module_number_${i}`);
  assert.equal(fmt(`lora x { t = [${items.join(' ')}] }`), ['lora x {', '  t = [', ...items.map((i) => `    ${i},`), '  ]', '}', ''].join('\n'));
});

test('strings are re-escaped canonically; numbers stay as written', () => {
  assert.equal(quote('a"b\\c\nd\u0001é'), '"a\\"b\\\\c\\nd\\u{1}é"');
  assert.equal(fmt('t x { s = "\\u{41}\\0" n = [1_000, 2E-4, -0.50] }'), 't x {\n  s = "A\\0"\n  n = [1_000, 2E-4, -0.50]\n}\n');
});

test('the example pipeline is already canonical, and formatting is idempotent', () => {
  const src = readFileSync(join(repoRoot(), 'pipelines/alpaca-lora.ft'), 'utf8');
  assert.equal(fmt(src), src);
  const once = fmt('data a{x=1 # c\n} model b { y = [1,2] }');
  assert.equal(fmt(once), once);
});

test('convert: .ft → YAML gives the committed twin, and YAML → .ft gives fmt of the original', () => {
  const ftText = readFileSync(join(repoRoot(), 'pipelines/alpaca-lora.ft'), 'utf8');
  const yamlText = readFileSync(join(repoRoot(), 'pipelines/alpaca-lora.ft.yaml'), 'utf8');
  const yaml = formatYaml(parseFt(ftText, 'a.ft').ast, { schema: '../grammar/ft.schema.json' });
  assert.equal(yaml, yamlText);
  assert.equal(toFt(parseSource(yaml, 'a.ft.yaml').ast), formatFt(parseFt(ftText, 'a.ft').ast));
});

test('convert round trip keeps comments, nested blocks and lists of blocks', () => {
  const src = fmt(
    ['# top', 'pipeline p {', '  seed = 1  # seed', '}', '', '# the data', 'data d {', '  fields = [{ a = 1 b = "x" }, { a = 2 }]', '  opts   = { deep = { k = v } }', '  # last', '}', ''].join('\n'),
  );
  const yaml = formatYaml(parseFt(src, 'p.ft').ast);
  const back = parseSource(yaml, 'p.ft.yaml');
  assert.deepEqual(back.diagnostics, []);
  assert.equal(toFt(back.ast), src);
});

test('a nested block prints as `key { ... }` whichever form it was written in; fmt is idempotent on both', () => {
  const canonical = ['tokenizer tok {', '  input      = prompts', '  train {', '    vocab_size = 4096', '    extra {}', '  }', '  max_length = 64', '}', ''].join('\n');
  const sugar = 'tokenizer tok { input = prompts train { vocab_size = 4096 extra {} } max_length = 64 }';
  const equals = 'tokenizer tok { input = prompts train = { vocab_size = 4096 extra = {} } max_length = 64 }';
  for (const text of [sugar, equals, canonical]) {
    assert.equal(fmt(text), canonical, text);
    assert.equal(fmt(fmt(text)), fmt(text));
  }
  // blocks inside lists have no key, so they keep their braces alone
  assert.equal(fmt('d x { f = [{ a = 1 }] }'), 'd x {\n  f = [\n    {\n      a = 1\n    },\n  ]\n}\n');
});

test('the pipeline header goes first, with the comments above and inside it; YAML likewise', () => {
  const src = ['data raw {', '  source = "x"  # src', '}', '', '# about the header', 'pipeline p {', '  # inside', '  seed = 1', '}', '', '# the model', 'model m {}', ''].join('\n');
  const want = ['# about the header', 'pipeline p {', '  # inside', '  seed = 1', '}', '', 'data raw {', '  source = "x"  # src', '}', '', '# the model', 'model m {}', ''].join('\n');
  assert.equal(fmt(src), want);
  assert.equal(fmt(want), want);
  const yaml = formatYaml(parseFt(src, 'p.ft').ast);
  assert.match(yaml, /^# about the header\npipeline:\n  name: p\n  # inside\n  seed: 1\n\nstages:\n  raw:/);
  assert.equal(toFt(parseSource(yaml, 'p.ft.yaml').ast), want);
});

test('comments inside lists keep their place through fmt and ft → yaml → ft', () => {
  const src = fmt(['model m {', '  fields = [', '    # first', '    { a = 1 },', '    # second', '    { a = 2 },', '  ]', '  names = [', '    x,  # the x', '    y,', '  ]', '  other = 3', '}', ''].join('\n'));
  assert.equal(
    src,
    ['model m {', '  fields = [', '    # first', '    {', '      a = 1', '    },', '    # second', '    {', '      a = 2', '    },', '  ]', '  names  = [', '    x,  # the x', '    y,', '  ]', '  other  = 3', '}', ''].join('\n'),
  );
  assert.equal(fmt(src), src);
  const yaml = formatYaml(parseFt(src, 'p.ft').ast);
  assert.match(yaml, /    fields:\n      # first\n      - a: 1\n      # second\n      - a: 2\n/);
  assert.equal(toFt(parseSource(yaml, 'p.ft.yaml').ast), src);
});

test('convert: a string longer than a line stays on its key\'s line in YAML and round-trips', () => {
  const prompt = 'Below is an instruction that describes a task. Write a response that appropriately completes the request.\n{instruction}';
  const src = `pipeline p {\n  seed = 1\n}\n\npreprocess prompts {\n  input  = raw\n  prompt = ${JSON.stringify(prompt)}\n}\n`;
  const yaml = formatYaml(parseFt(src, 'p.ft').ast);
  assert.match(yaml, /^ {4}prompt: "Below is an instruction/m);
  const back = parseYaml(yaml, 'p.ft.yaml');
  assert.deepEqual(back.diagnostics, []);
  assert.equal(toFt(back.ast), formatFt(parseFt(src, 'p.ft').ast));
});
