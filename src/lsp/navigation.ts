import { ResponseError, ErrorCodes, type Location, type Position, type Range, type WorkspaceEdit } from 'vscode-languageserver';
import type { Analysis } from './analysis.js';
import { occurrences, stageNameAt, stagesByName } from './lookup.js';
import { toLspRange } from './positions.js';

/** Go to definition: from a reference (or a stage's own name) to the stage that declares it. */
export function definition(a: Analysis, pos: Position): Location | null {
  const at = stageNameAt(a.result.ast, pos);
  const target = at && stagesByName(a.result.ast).get(at.name);
  return target ? { uri: a.doc.uri, range: toLspRange(target.nameRange) } : null;
}

/** Find references: every use of the stage name, and its declaration when the client asks for it. */
export function references(a: Analysis, pos: Position, includeDeclaration: boolean): Location[] {
  const at = stageNameAt(a.result.ast, pos);
  if (!at) return [];
  const { declarations, uses } = occurrences(a.result.ast, at.name);
  const ranges = includeDeclaration ? [...declarations, ...uses] : uses;
  return ranges.map((r) => ({ uri: a.doc.uri, range: toLspRange(r) }));
}

/** Only stage names (declared or referenced) can be renamed; anything else is refused with a reason. */
export function prepareRename(a: Analysis, pos: Position): { range: Range; placeholder: string } | ResponseError<void> {
  const at = stageNameAt(a.result.ast, pos);
  if (!at || !stagesByName(a.result.ast).has(at.name)) return new ResponseError(ErrorCodes.InvalidRequest, 'Only stage names can be renamed.');
  return { range: toLspRange(at.range), placeholder: at.name };
}

/** The lexer's identifier, minus the keywords that lex as booleans. */
const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_.-]*$/;

export function rename(a: Analysis, pos: Position, newName: string): WorkspaceEdit | ResponseError<void> {
  const prepared = prepareRename(a, pos);
  if (prepared instanceof ResponseError) return prepared;
  if (!IDENTIFIER.test(newName) || newName === 'true' || newName === 'false') {
    return new ResponseError(ErrorCodes.InvalidParams, `'${newName}' is not a valid stage name: use letters, digits, '_', '-' or '.', starting with a letter or '_'.`);
  }
  const old = prepared.placeholder;
  if (newName !== old && stagesByName(a.result.ast).has(newName)) {
    return new ResponseError(ErrorCodes.InvalidParams, `A stage named '${newName}' already exists.`);
  }
  const { declarations, uses } = occurrences(a.result.ast, old);
  const edits = [...declarations, ...uses].map((r) => ({ range: toLspRange(r), newText: newName }));
  return { changes: { [a.doc.uri]: edits } };
}
