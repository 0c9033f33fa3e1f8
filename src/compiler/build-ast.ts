import type { CstNode, IToken } from 'chevrotain';
import type { Comment, EntryNode, FileNode, StageNode, ValueNode } from './ast.js';
import type { Diagnostic, SourceRange } from './diagnostics.js';
import { decodeString, tokenRange, type LineMap } from './lexer.js';

/**
 * CST → AST. The CST may be partial where the parser recovered: tokens it inserted have no
 * position and are ignored for ranges, and an entry whose value failed to parse has no `value`.
 */
export function buildAst(cst: CstNode, comments: IToken[], lines: LineMap, file: string): { ast: FileNode; diagnostics: Diagnostic[] } {
  const diagnostics: Diagnostic[] = [];
  const ctx: Ctx = { file, diagnostics, lines };
  const stages = nodes(cst, 'block').map((b) => buildStage(b, ctx)).filter((s): s is StageNode => s !== undefined);
  const commentNodes: Comment[] = comments.map((t) => ({ text: t.image.replace(/\s+$/, ''), range: tokenRange(t, lines) }));
  return { ast: { file, stages, comments: commentNodes }, diagnostics };
}

interface Ctx {
  file: string;
  diagnostics: Diagnostic[];
  lines: LineMap;
}

function nodes(n: CstNode, key: string): CstNode[] {
  return (n.children[key] as CstNode[] | undefined) ?? [];
}

/** The first token under `key` that really is in the text (not inserted by recovery). */
function token(n: CstNode, key: string): IToken | undefined {
  const ts = n.children[key] as IToken[] | undefined;
  const t = ts?.[0];
  return t && !t.isInsertedInRecovery && !Number.isNaN(t.startOffset) ? t : undefined;
}

/** From the start of `a` to the end of `b`. */
function span(a: SourceRange, b: SourceRange): SourceRange {
  return { line: a.line, column: a.column, endLine: b.endLine, endColumn: b.endColumn };
}

/** A zero-width range just after `r`, for names that recovery had to invent. */
function after(r: SourceRange): SourceRange {
  return { line: r.endLine, column: r.endColumn, endLine: r.endLine, endColumn: r.endColumn };
}

function buildStage(b: CstNode, ctx: Ctx): StageNode | undefined {
  const kind = token(b, 'kind');
  if (!kind) return undefined; // the block rule only starts on an identifier, so this is recovery debris
  const kindRange = tokenRange(kind, ctx.lines);
  const nameTok = token(b, 'name');
  const nameRange = nameTok ? tokenRange(nameTok, ctx.lines) : after(kindRange);
  const entries = nodes(b, 'entry').map((e) => buildEntry(e, ctx)).filter((e): e is EntryNode => e !== undefined);
  const close = token(b, 'RCurly') ?? token(b, 'LCurly');
  let end = close ? tokenRange(close, ctx.lines) : nameRange;
  const last = entries[entries.length - 1];
  if (last && !token(b, 'RCurly')) end = last.range;
  return { kind: kind.image, kindRange, name: nameTok?.image ?? '', nameRange, entries, range: span(kindRange, end) };
}

function buildEntry(e: CstNode, ctx: Ctx): EntryNode | undefined {
  const key = token(e, 'key');
  if (!key) return undefined;
  const keyRange = tokenRange(key, ctx.lines);
  // `key { ... }` holds its block directly; `key = value` holds a value
  const sugar = nodes(e, 'nestedBlock')[0];
  const valueCst = nodes(e, 'value')[0];
  const value = sugar ? buildNestedBlock(sugar, ctx) : valueCst ? buildValue(valueCst, ctx) : undefined;
  const eq = token(e, 'Equals');
  const end = value?.range ?? (eq ? tokenRange(eq, ctx.lines) : keyRange);
  return value ? { key: key.image, keyRange, value, range: span(keyRange, end) } : { key: key.image, keyRange, range: span(keyRange, end) };
}

function buildValue(v: CstNode, ctx: Ctx): ValueNode | undefined {
  let t: IToken | undefined;
  if ((t = token(v, 'StringLiteral'))) return { type: 'string', value: decodeString(t.image).value, range: tokenRange(t, ctx.lines) };
  if ((t = token(v, 'NumberLiteral'))) return buildNumber(t, ctx);
  if ((t = token(v, 'True'))) return { type: 'boolean', value: true, range: tokenRange(t, ctx.lines) };
  if ((t = token(v, 'False'))) return { type: 'boolean', value: false, range: tokenRange(t, ctx.lines) };
  if ((t = token(v, 'Identifier'))) return { type: 'ident', name: t.image, range: tokenRange(t, ctx.lines) };
  const list = nodes(v, 'list')[0];
  if (list) return buildList(list, ctx);
  const block = nodes(v, 'nestedBlock')[0];
  if (block) return buildNestedBlock(block, ctx);
  return undefined;
}

function buildNumber(t: IToken, ctx: Ctx): ValueNode {
  const range = tokenRange(t, ctx.lines);
  const value = Number(t.image.replace(/_/g, ''));
  if (!Number.isFinite(value)) {
    ctx.diagnostics.push({ file: ctx.file, ...range, severity: 'error', code: 'E0001', message: `number '${t.image}' is too large` });
  }
  return { type: 'number', value, raw: t.image, range };
}

function buildList(l: CstNode, ctx: Ctx): ValueNode | undefined {
  const open = token(l, 'LSquare');
  if (!open) return undefined;
  const items = nodes(l, 'value').map((v) => buildValue(v, ctx)).filter((v): v is ValueNode => v !== undefined);
  const close = token(l, 'RSquare');
  const end = close ? tokenRange(close, ctx.lines) : (items[items.length - 1]?.range ?? tokenRange(open, ctx.lines));
  return { type: 'list', items, range: span(tokenRange(open, ctx.lines), end) };
}

function buildNestedBlock(n: CstNode, ctx: Ctx): ValueNode | undefined {
  const open = token(n, 'LCurly');
  if (!open) return undefined;
  const entries = nodes(n, 'entry').map((e) => buildEntry(e, ctx)).filter((e): e is EntryNode => e !== undefined);
  const close = token(n, 'RCurly');
  const end = close ? tokenRange(close, ctx.lines) : (entries[entries.length - 1]?.range ?? tokenRange(open, ctx.lines));
  return { type: 'block', entries, range: span(tokenRange(open, ctx.lines), end) };
}
