import { createToken, Lexer, type IToken, type TokenType } from 'chevrotain';
import type { Diagnostic, SourceRange } from './diagnostics.js';

/**
 * The tokens of the .ft language. Newlines are plain whitespace: entries need no separators.
 * Comments go to their own token group so that the parser ignores them while `fmt` keeps them.
 */

export const WhiteSpace = createToken({ name: 'WhiteSpace', pattern: /[ \t\r\n\f\uFEFF]+/, group: Lexer.SKIPPED, line_breaks: true });
export const Comment = createToken({ name: 'Comment', pattern: /#[^\n\r]*/, group: 'comments', label: 'comment' });

/** Identifiers may carry '-' and '.' after the first char so enum members like `all-linear` stay one token. */
export const Identifier = createToken({ name: 'Identifier', pattern: /[A-Za-z_][A-Za-z0-9_.\-]*/, label: 'identifier' });
export const True = createToken({ name: 'True', pattern: /true/, longer_alt: Identifier, label: 'true' });
export const False = createToken({ name: 'False', pattern: /false/, longer_alt: Identifier, label: 'false' });

/** `42`, `-1`, `0.05`, `2e-4`, `1_000`: underscores only between digits. */
export const NumberLiteral = createToken({
  name: 'NumberLiteral',
  pattern: /-?\d(?:_?\d)*(?:\.\d(?:_?\d)*)?(?:[eE][+-]?\d(?:_?\d)*)?/,
  label: 'number',
});

/**
 * A string on one line. The closing quote is optional in the pattern so that an unterminated
 * string is still one token (reported by `checkStringTokens`) instead of a cascade of junk.
 */
export const StringLiteral = createToken({ name: 'StringLiteral', pattern: /"(?:[^"\\\n\r]|\\[^\n\r])*"?/, label: 'string' });

export const LCurly = createToken({ name: 'LCurly', pattern: '{', label: "'{'" });
export const RCurly = createToken({ name: 'RCurly', pattern: '}', label: "'}'" });
export const LSquare = createToken({ name: 'LSquare', pattern: '[', label: "'['" });
export const RSquare = createToken({ name: 'RSquare', pattern: ']', label: "']'" });
export const Equals = createToken({ name: 'Equals', pattern: '=', label: "'='" });
export const Comma = createToken({ name: 'Comma', pattern: ',', label: "','" });

export const allTokens: TokenType[] = [
  WhiteSpace,
  Comment,
  StringLiteral,
  NumberLiteral,
  True,
  False,
  Identifier,
  LCurly,
  RCurly,
  LSquare,
  RSquare,
  Equals,
  Comma,
];

/** Built once: constructing a Chevrotain lexer validates every pattern, too slow to repeat per file. */
const lexer = new Lexer(allTokens, { positionTracking: 'full', ensureOptimizations: true });

export interface LexResult {
  tokens: IToken[];
  comments: IToken[];
  diagnostics: Diagnostic[];
}

/** A token's range, 1-based with an exclusive end (tokens never span lines, except none do). */
export function tokenRange(t: IToken): SourceRange {
  return { line: t.startLine ?? 1, column: t.startColumn ?? 1, endLine: t.endLine ?? t.startLine ?? 1, endColumn: (t.endColumn ?? 0) + 1 };
}

export function tokenize(text: string, file: string): LexResult {
  const result = lexer.tokenize(text);
  const diagnostics: Diagnostic[] = result.errors.map((e) => {
    const bad = text.slice(e.offset, e.offset + e.length);
    const what = bad.length === 1 ? `character '${bad}'` : `characters '${bad}'`;
    return {
      file,
      line: e.line ?? 1,
      column: e.column ?? 1,
      endLine: e.line ?? 1,
      endColumn: (e.column ?? 1) + e.length,
      severity: 'error',
      code: 'E0001',
      message: `unexpected ${what}${hintFor(bad)}`,
    };
  });
  for (const t of result.tokens) if (t.tokenType === StringLiteral) diagnostics.push(...checkString(t, file));
  return { tokens: result.tokens, comments: result.groups.comments ?? [], diagnostics };
}

function hintFor(bad: string): string {
  if (bad.startsWith("'")) return ": strings use double quotes";
  if (bad.startsWith(':')) return ": use '=' between a key and its value";
  if (bad.startsWith(';')) return ': entries need no separator';
  return '';
}

const simpleEscapes: Record<string, string> = { n: '\n', t: '\t', r: '\r', '"': '"', '\\': '\\', '0': '\0' };

/**
 * The value of a string token and the problems in it (bad escapes, missing closing quote).
 * Decoding is lenient: a bad escape keeps its character so that later phases still see a string.
 */
export function decodeString(image: string): { value: string; problems: { offset: number; length: number; message: string }[] } {
  const problems: { offset: number; length: number; message: string }[] = [];
  const closed = image.length >= 2 && image.endsWith('"') && !isEscaped(image, image.length - 1);
  if (!closed) problems.push({ offset: 0, length: image.length, message: 'unterminated string: add the closing \'"\'' });
  const body = image.slice(1, closed ? -1 : undefined);
  let value = '';
  for (let i = 0; i < body.length; i++) {
    const c = body[i];
    if (c !== '\\') {
      value += c;
      continue;
    }
    const next = body[i + 1] ?? '';
    if (next in simpleEscapes) {
      value += simpleEscapes[next];
      i++;
    } else if (next === 'u') {
      const m = /^\{([0-9a-fA-F]{1,6})\}/.exec(body.slice(i + 2));
      const cp = m ? Number.parseInt(m[1], 16) : NaN;
      if (m && cp <= 0x10ffff) {
        value += String.fromCodePoint(cp);
        i += 1 + m[0].length;
      } else {
        problems.push({ offset: i + 1, length: 2, message: "invalid unicode escape: write \\u{XXXX} with 1 to 6 hex digits" });
        value += 'u';
        i++;
      }
    } else {
      problems.push({ offset: i + 1, length: 2, message: `unknown escape '\\${next}': use \\n, \\t, \\r, \\", \\\\, \\0 or \\u{...}` });
      value += next;
      i++;
    }
  }
  return { value, problems };
}

function isEscaped(s: string, index: number): boolean {
  let n = 0;
  for (let i = index - 1; i >= 0 && s[i] === '\\'; i--) n++;
  return n % 2 === 1;
}

function checkString(t: IToken, file: string): Diagnostic[] {
  const line = t.startLine ?? 1;
  const col = t.startColumn ?? 1;
  return decodeString(t.image).problems.map((p) => ({
    file,
    line,
    column: col + p.offset,
    endLine: line,
    endColumn: col + p.offset + p.length,
    severity: 'error' as const,
    code: 'E0001',
    message: p.message,
  }));
}
