import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, test } from 'node:test';
import oniguruma from 'vscode-oniguruma';
import vsctm from 'vscode-textmate';
import { repoRoot } from '../helpers.js';

// The `key { ... }` form in the TextMate grammar (the rest of it is tested in test/lsp/textmate.test.ts).
let grammar: vsctm.IGrammar;

before(async () => {
  const wasm = readFileSync(join(repoRoot(), 'node_modules/vscode-oniguruma/release/onig.wasm'));
  await oniguruma.loadWASM(wasm.buffer.slice(wasm.byteOffset, wasm.byteOffset + wasm.byteLength));
  const path = join(repoRoot(), 'grammar/ft.tmLanguage.json');
  const registry = new vsctm.Registry({
    onigLib: Promise.resolve({ createOnigScanner: (s: string[]) => new oniguruma.OnigScanner(s), createOnigString: (s: string) => new oniguruma.OnigString(s) }),
    loadGrammar: async (scope: string) => (scope === 'source.ft' ? vsctm.parseRawGrammar(readFileSync(path, 'utf8'), path) : null),
  });
  grammar = (await registry.loadGrammar('source.ft'))!;
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
