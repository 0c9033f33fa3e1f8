import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeString, tokenize } from '../../src/compiler/lexer.js';

const kinds = (text: string) => tokenize(text, 't.ft').tokens.map((t) => `${t.tokenType.name}:${t.image}`);

test('identifiers keep - and . after the first character; true/false only as whole words', () => {
  assert.deepEqual(kinds('target = all-linear deepspeed-zero2 a.b trueish true false'), [
    'Identifier:target',
    'Equals:=',
    'Identifier:all-linear',
    'Identifier:deepspeed-zero2',
    'Identifier:a.b',
    'Identifier:trueish',
    'True:true',
    'False:false',
  ]);
});

test('numbers: ints, decimals, exponents, underscores between digits, leading minus', () => {
  assert.deepEqual(kinds('42 0.05 2e-4 1E+3 1_000 -1 -0.5'), [
    'NumberLiteral:42',
    'NumberLiteral:0.05',
    'NumberLiteral:2e-4',
    'NumberLiteral:1E+3',
    'NumberLiteral:1_000',
    'NumberLiteral:-1',
    'NumberLiteral:-0.5',
  ]);
});

test('punctuation, strings and comments; comments are a separate group', () => {
  const r = tokenize('a = [x, "y"] { } # note\n', 't.ft');
  assert.deepEqual(r.tokens.map((t) => t.image), ['a', '=', '[', 'x', ',', '"y"', ']', '{', '}']);
  assert.deepEqual(r.comments.map((t) => [t.image, t.startLine, t.startColumn]), [['# note', 1, 18]]);
  assert.deepEqual(r.diagnostics, []);
});

test('string escapes decode; bad escapes and unterminated strings are reported, not thrown', () => {
  assert.equal(decodeString('"a\\nb\\t\\"q\\" \\\\ \\u{1F600}"').value, 'a\nb\t"q" \\ \u{1F600}');
  assert.deepEqual(decodeString('"x\\qy"'), { value: 'xqy', problems: [{ offset: 2, length: 2, message: "unknown escape '\\q': use \\n, \\t, \\r, \\\", \\\\, \\0 or \\u{...}" }] });
  assert.equal(decodeString('"abc').problems[0].message, 'unterminated string: add the closing \'"\'');
  assert.equal(decodeString('"a\\"').problems.length, 1, 'an escaped quote does not close the string');
});

test('lexing errors are E0001 diagnostics with a position and a hint', () => {
  const r = tokenize("data x {\n  a = 'b'\n}", 'p.ft');
  assert.deepEqual(
    r.diagnostics.map((d) => [d.code, d.line, d.column, d.endColumn, d.message]),
    [
      ['E0001', 2, 7, 8, "unexpected character ''': strings use double quotes"],
      ['E0001', 2, 9, 10, "unexpected character ''': strings use double quotes"],
    ],
  );
  const s = tokenize('a = "x\\z"', 'p.ft');
  assert.deepEqual(s.diagnostics.map((d) => [d.code, d.line, d.column, d.endColumn]), [['E0001', 1, 7, 9]]);
});
