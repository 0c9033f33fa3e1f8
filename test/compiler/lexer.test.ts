import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeString, tokenize, tokenRange } from '../../src/compiler/lexer.js';

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
  assert.deepEqual(r.comments.map((t) => [t.image, tokenRange(t, r.lines)]), [['# note', { line: 1, column: 18, endLine: 1, endColumn: 24 }]]);
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

test('LineMap: \\n, \\r\\n and a lone \\r all end lines; ranges are 1-based with an exclusive end', () => {
  const { lines } = tokenize('ab\r\ncd\ref\ngh', 't.ft');
  assert.deepEqual(lines.range(0, 2), { line: 1, column: 1, endLine: 1, endColumn: 3 });
  assert.deepEqual(lines.range(4, 5), { line: 2, column: 1, endLine: 2, endColumn: 2 });
  assert.deepEqual(lines.range(7, 9), { line: 3, column: 1, endLine: 3, endColumn: 3 });
  assert.deepEqual(lines.range(11, 12), { line: 4, column: 2, endLine: 4, endColumn: 3 });
  assert.deepEqual(lines.range(1, 8), { line: 1, column: 2, endLine: 3, endColumn: 2 }, 'a range across lines');
  assert.deepEqual(lines.range(5, 5), { line: 2, column: 2, endLine: 2, endColumn: 2 }, 'lookups out of order still work');
});

test('tokens for tools carry their inclusive end offset', () => {
  const r = tokenize('key = "ab" # c', 't.ft');
  assert.deepEqual([...r.tokens, ...r.comments].map((t) => [t.startOffset, t.endOffset]), [[0, 2], [4, 4], [6, 9], [11, 13]]);
});
