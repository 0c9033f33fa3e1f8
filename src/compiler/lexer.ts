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

/**
 * Built once: constructing a Chevrotain lexer validates every pattern, too slow to repeat per file.
 * Tokens carry offsets only ('onlyOffset'): full line/column tracking made lexing ~5x slower (it
 * re-scans every whitespace run for line breaks and doubles each token's size). Lines and columns
 * come from a LineMap, computed only for the tokens that become ranges.
 */
const lexer = new Lexer(allTokens, { positionTracking: 'onlyOffset', ensureOptimizations: true });

export interface LexResult {
  tokens: IToken[];
  comments: IToken[];
  diagnostics: Diagnostic[];
  /** Offset → line/column for this text. */
  lines: LineMap;
}

/**
 * Where each line of a text starts, for turning offsets into 1-based lines and columns (UTF-16
 * columns, as Chevrotain and LSP count). Line breaks are \n, \r\n and a lone \r, like the lexer's.
 * Lookups are usually in source order, so the last line found is tried first.
 */
export class LineMap {
  private readonly starts: number[] = [0];
  private last = 0;

  constructor(text: string) {
    for (let i = 0; i < text.length; i++) {
      const c = text.charCodeAt(i);
      if (c === 10) this.starts.push(i + 1);
      else if (c === 13) {
        if (text.charCodeAt(i + 1) === 10) i++;
        this.starts.push(i + 1);
      }
    }
  }

  /** The 0-based index of the line holding `offset`. */
  private lineIndex(offset: number): number {
    const s = this.starts;
    let i = this.last;
    if (s[i]! <= offset && (i + 1 === s.length || offset < s[i + 1]!)) return i;
    if (i + 2 <= s.length - 1 && s[i + 1]! <= offset && offset < s[i + 2]!) return (this.last = i + 1);
    let lo = 0;
    let hi = s.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (s[mid]! <= offset) lo = mid;
      else hi = mid - 1;
    }
    return (this.last = lo);
  }

  /** The range of [start, end) on one line or across lines. */
  range(start: number, end: number): SourceRange {
    const l = this.lineIndex(start);
    const line = l + 1;
    const column = start - this.starts[l]! + 1;
    if (end <= start || (l + 1 === this.starts.length || end <= this.starts[l + 1]!)) return { line, column, endLine: line, endColumn: end - this.starts[l]! + 1 };
    const e = this.lineIndex(end);
    return { line, column, endLine: e + 1, endColumn: end - this.starts[e]! + 1 };
  }
}

/** A token's range, 1-based with an exclusive end (tokens never span lines). */
export function tokenRange(t: IToken, lines: LineMap): SourceRange {
  return lines.range(t.startOffset, t.startOffset + t.image.length);
}

/**
 * The tokens of a text for tools (the language server's cursor scan): each also carries its
 * inclusive `endOffset`. The parser reads `lex()` instead and skips that pass.
 */
export function tokenize(text: string, file: string): LexResult {
  const r = lex(text, file);
  for (const t of r.tokens) t.endOffset = t.startOffset + t.image.length - 1;
  for (const t of r.comments) t.endOffset = t.startOffset + t.image.length - 1;
  return r;
}

/** Tokens with start offsets only, plus lexing errors (E0001) with their ranges. */
export function lex(text: string, file: string): LexResult {
  const result = lexer.tokenize(text);
  const lines = new LineMap(text);
  const diagnostics: Diagnostic[] = result.errors.map((e) => {
    const bad = text.slice(e.offset, e.offset + e.length);
    const what = bad.length === 1 ? `character '${bad}'` : `characters '${bad}'`;
    return { file, ...lines.range(e.offset, e.offset + e.length), severity: 'error', code: 'E0001', message: `unexpected ${what}${hintFor(bad)}` };
  });
  for (const t of result.tokens) if (t.tokenType === StringLiteral) diagnostics.push(...checkString(t, file, lines));
  return { tokens: result.tokens, comments: result.groups.comments ?? [], diagnostics, lines };
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

function checkString(t: IToken, file: string, lines: LineMap): Diagnostic[] {
  // most strings have no backslash and always end in '"' unless unterminated: skip the decode then
  if (t.image.length >= 2 && t.image.endsWith('"') && !t.image.includes('\\')) return [];
  return decodeString(t.image).problems.map((p) => ({
    file,
    ...lines.range(t.startOffset + p.offset, t.startOffset + p.offset + p.length),
    severity: 'error' as const,
    code: 'E0001',
    message: p.message,
  }));
}
