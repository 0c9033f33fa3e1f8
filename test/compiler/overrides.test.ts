import assert from 'node:assert/strict';
import { test } from 'node:test';
import { compile } from '../../src/compiler/index.js';
import { parseFt } from '../../src/compiler/parse.js';
import { applyOverrides } from '../../src/compiler/overrides.js';

const pipeline = (train: string) => `pipeline p {
  seed = 1
}
data raw {
  source = "d.json"
}
preprocess prompts {
  input    = raw
  template = alpaca
}
tokenizer tok {
  input = prompts
  ${train}
}
`;

const params = (text: string, overrides: string[]) => {
  const r = compile(text, '/x/p.ft', { checkFiles: false, overrides });
  return { ir: r.ir, diagnostics: r.diagnostics.map((d) => [d.file, d.code, d.line, d.column, d.endColumn]) };
};
const train = (text: string, overrides: string[]) => params(text, overrides).ir?.stages.find((s) => s.name === 'tok')?.params.train;

test('--set stage.block.key sets a key inside a nested block, keeping its other keys', () => {
  const text = pipeline('train { vocab_size = 300 min_frequency = 3 }');
  assert.deepEqual(train(text, ['tok.train.vocab_size=8000']), { vocab_size: 8000, min_frequency: 3 });
  // the same through the `=` form of the block
  assert.deepEqual(train(pipeline('train = { vocab_size = 300 }'), ['tok.train.min_frequency=5']), { vocab_size: 300, min_frequency: 5 });
});

test('--set creates the nested block when the file has none (defaults filled in as for the file)', () => {
  const text = pipeline('');
  assert.deepEqual(params(text, []).diagnostics.map((d) => d[1]), ['E0309'], 'without it the tokenizer has neither vocab nor train');
  assert.deepEqual(train(text, ['tok.train.vocab_size=4096']), { vocab_size: 4096, min_frequency: 2 });
});

test('nested overrides are validated like the file and point at the override', () => {
  const text = pipeline('train { vocab_size = 300 }');
  const bad = params(text, ['tok.train.vocab_size=0', 'tok.train.vocab=9', 'tok.input.x=1', 'tok.train.=1']);
  assert.equal(bad.ir, undefined);
  assert.deepEqual(bad.diagnostics, [
    ['<--set>', 'E0104', 1, 22, 23], // out of range, at the value
    ['<--set>', 'E0102', 2, 11, 16], // no such nested key, at the key
    ['<--set>', 'E0110', 3, 5, 10], // `input` holds an identifier, not a block
    ['<--set>', 'E0110', 4, 1, 13], // empty path segment
  ]);
});

test('overrides never change the AST they were given', () => {
  const ast = parseFt(pipeline('train { vocab_size = 300 }'), 'p.ft').ast;
  const before = JSON.stringify(ast);
  const out = applyOverrides(ast, ['tok.train.vocab_size=1', 'tok.train.extra.deep=2', 'raw.source="e.json"']);
  assert.deepEqual(out.diagnostics, []);
  assert.equal(JSON.stringify(ast), before);
  const tok = out.ast.stages.find((s) => s.name === 'tok')!;
  const block = tok.entries.find((e) => e.key === 'train')!.value;
  assert.ok(block?.type === 'block');
  assert.deepEqual(block.entries.map((e) => e.key), ['vocab_size', 'extra']);
});
