import type { IRecognitionException, IToken } from 'chevrotain';
import type { FileNode } from './ast.js';
import { buildAst } from './build-ast.js';
import type { Diagnostic, SourceRange } from './diagnostics.js';
import { lex, tokenRange, type LineMap } from './lexer.js';
import { parser } from './parser.js';
import { parseYaml } from './yaml.js';
import { firstTooDeepToken, tooDeep } from './nesting.js';

const OPENERS = new Set(['LCurly', 'LSquare']);
const CLOSERS = new Set(['RCurly', 'RSquare']);

export interface ParseResult {
  ast: FileNode;
  diagnostics: Diagnostic[];
}

/** Text of a `.ft` file → AST plus every lexing (E0001) and syntax (E0002) error. Never throws on user input. */
export function parseFt(text: string, file: string): ParseResult {
  const lexed = lex(text, file); // 1. lex
  const deep = firstTooDeepToken(lexed.tokens, OPENERS, CLOSERS);
  if (deep) return { ast: { file, stages: [], comments: [] }, diagnostics: [...lexed.diagnostics, tooDeep(file, tokenRange(deep, lexed.lines), 'Blocks and lists')] };
  parser.input = lexed.tokens; // 2. parse (the singleton parser is reset by assigning input)
  const cst = parser.file();
  const syntax = parser.errors.map((e) => syntaxDiagnostic(e, lexed, file));
  const built = buildAst(cst, lexed.comments, lexed.lines, file); // 3. build the AST
  const diagnostics = dedupe([...lexed.diagnostics, ...syntax, ...built.diagnostics]);
  diagnostics.sort((a, b) => a.line - b.line || a.column - b.column);
  return { ast: built.ast, diagnostics };
}

/** `.ft.yaml`, `.ft.yml` and `.yaml`/`.yml` files are the YAML form; everything else is `.ft` text. */
export function isYamlFile(file: string): boolean {
  return /\.ya?ml$/i.test(file);
}

export function parseSource(text: string, file: string): ParseResult {
  return isYamlFile(file) ? parseYaml(text, file) : parseFt(text, file);
}

function syntaxDiagnostic(e: IRecognitionException, lexed: { tokens: IToken[]; lines: LineMap }, file: string): Diagnostic {
  return { file, ...errorRange(e.token, lexed.tokens, lexed.lines), severity: 'error', code: 'E0002', message: e.message };
}

/** Where to point: the offending token, or just past the last token when the file ended early (EOF has no offset). */
function errorRange(t: IToken, tokens: IToken[], lines: LineMap): SourceRange {
  if (t && !Number.isNaN(t.startOffset)) return tokenRange(t, lines);
  const last = tokens[tokens.length - 1];
  if (!last) return { line: 1, column: 1, endLine: 1, endColumn: 1 };
  const r = tokenRange(last, lines);
  return { line: r.endLine, column: r.endColumn, endLine: r.endLine, endColumn: r.endColumn };
}

/** Recovery can report the same problem twice at one place; a person needs to read it once. */
function dedupe(ds: Diagnostic[]): Diagnostic[] {
  const seen = new Set<string>();
  return ds.filter((d) => {
    const k = `${d.line}:${d.column}:${d.code}:${d.message}`;
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}
