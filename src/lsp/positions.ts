import type { Position, Range } from 'vscode-languageserver';
import type { SourceRange } from '../compiler/diagnostics.js';

/**
 * The compiler counts lines and columns from 1 with an exclusive end column; LSP counts both from 0,
 * also with an exclusive end. Both count UTF-16 code units (Chevrotain and the yaml package index JS
 * strings), which is LSP's default position encoding, so only the origin moves.
 */
export function toLspRange(r: SourceRange): Range {
  return {
    start: { line: Math.max(0, r.line - 1), character: Math.max(0, r.column - 1) },
    end: { line: Math.max(0, r.endLine - 1), character: Math.max(0, r.endColumn - 1) },
  };
}

/** Whether the cursor touches `r`: a cursor just after a word still points at it, as editors expect. */
export function touches(r: SourceRange, p: Position): boolean {
  const line = p.line + 1;
  const col = p.character + 1;
  if (line < r.line || line > r.endLine) return false;
  if (line === r.line && col < r.column) return false;
  if (line === r.endLine && col > r.endColumn) return false;
  return true;
}
