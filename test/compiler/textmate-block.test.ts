import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import vsctm from 'vscode-textmate';
import { loadFtGrammar } from '../textmate-grammar.js';

// The `key { ... }` form in the TextMate grammar (the rest of it is tested in test/lsp/textmate.test.ts).
let grammar: vsctm.IGrammar;

before(async () => {
  grammar = await loadFtGrammar();
});

/** Each token's text and innermost scope, one line. */
function scopes(line: string): [string, string][] {
  const r = grammar.tokenizeLine(line, vsctm.INITIAL);
  return r.tokens.map((t) => [line.slice(t.startIndex, t.endIndex), t.scopes[t.scopes.length - 1]!]);
}

test('`key {` colours the key like `key =`, and `KIND NAME {` stays a stage header', () => {
  const block = scopes('  train { vocab_size = 4096 }');
  assert.deepEqual(block.find(([t]) => t === 'train'), ['train', 'variable.other.property.ft']);
  assert.deepEqual(block.find(([t]) => t === 'vocab_size'), ['vocab_size', 'variable.other.property.ft']);
  const header = scopes('tokenizer tok {');
  assert.deepEqual(header.find(([t]) => t === 'tokenizer'), ['tokenizer', 'keyword.other.stage-kind.ft']);
  assert.deepEqual(header.find(([t]) => t === 'tok'), ['tok', 'entity.name.section.stage.ft']);
});
