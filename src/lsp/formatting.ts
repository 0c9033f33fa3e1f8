import type { TextEdit } from 'vscode-languageserver';
import { formatFt, formatYaml } from '../compiler/format.js';
import { hasErrors } from '../compiler/diagnostics.js';
import { parseSource } from '../compiler/parse.js';
import type { Analysis } from './analysis.js';

/**
 * Exactly `ftc fmt`: the canonical text as one edit over the whole document. A file with syntax
 * errors is left alone, as `ftc fmt` refuses it: printing a recovered AST would rewrite the mistake.
 */
export function format(a: Analysis): TextEdit[] {
  const text = a.doc.getText();
  // parse only: fmt formats files whose values are wrong, as long as their syntax is right
  const { ast, diagnostics } = parseSource(text, a.file);
  if (hasErrors(diagnostics)) return [];
  const canonical = a.yaml ? formatYaml(ast) : formatFt(ast);
  if (canonical === text) return [];
  const end = a.doc.positionAt(text.length);
  return [{ range: { start: { line: 0, character: 0 }, end }, newText: canonical }];
}
