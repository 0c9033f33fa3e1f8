import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Diagnostic } from '../../src/compiler/diagnostics.js';
import { MAX_TEXT_DIAGNOSTICS, printDiagnostics } from '../../src/cli/diagnostics-print.js';
import { terminalSafe } from '../../src/terminal-safe.js';

const diag = (line: number, column: number, endColumn: number, message = 'bad'): Diagnostic =>
  ({ file: 'p.ft', line, column, endLine: line, endColumn, severity: 'error', code: 'E0001', message });

test('control characters from the source and the message are escaped, and the caret still lines up', () => {
  const source = 'data \x1b]0;pwned\x07 { source = "\u202ex" }';
  const out = printDiagnostics([diag(1, 15, 16, "unexpected character '\x07'")], new Map([['p.ft', source]]), 'text');
  assert.equal(out, [
    "p.ft:1:15: error[E0001]: unexpected character '\\x07'",
    '  1 | data \\x1b]0;pwned\\x07 { source = "\\u202ex" }',
    `    | ${' '.repeat(17)}^~~~`,
    '1 error',
    '',
  ].join('\n'));
  assert.doesNotMatch(out, /[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]/);
});

test('terminalSafe keeps newlines and tabs, escapes the rest', () => {
  assert.equal(terminalSafe('a\tb\nc\rd\x1b[2J\x9b\u2066'), 'a\tb\nc\\x0dd\\x1b[2J\\x9b\\u2066');
});

test('text output stops after the cap with "and N more"; the summary counts all', () => {
  const source = Array.from({ length: 300 }, () => '@').join('\n');
  const diags = Array.from({ length: 300 }, (_, i) => diag(i + 1, 1, 2));
  const out = printDiagnostics(diags, new Map([['p.ft', source]]), 'text');
  assert.equal(out.split('\n').filter((l) => l.startsWith('p.ft:')).length, MAX_TEXT_DIAGNOSTICS);
  assert.match(out, new RegExp(`\\.\\.\\. and ${300 - MAX_TEXT_DIAGNOSTICS} more \\(ftc check --format json lists them all\\)\\n300 errors\\n$`));
  assert.equal(JSON.parse(printDiagnostics(diags, new Map(), 'json')).diagnostics.length, 300, 'json carries every diagnostic');
});

test('a very long line is quoted as a window around the range', () => {
  const source = 'x'.repeat(5000) + '@' + 'y'.repeat(5000);
  const out = printDiagnostics([diag(1, 5001, 5002)], new Map([['p.ft', source]]), 'text');
  const [, quoted, caret] = out.split('\n');
  assert.equal(quoted, `  1 | …${'x'.repeat(80)}@${'y'.repeat(79)}…`);
  assert.equal(caret, `    | ${' '.repeat(81)}^`);
});
