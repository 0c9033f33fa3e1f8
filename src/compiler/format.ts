import type { EntryNode, FileNode, StageNode, ValueNode } from './ast.js';
import { CommentCursor, headerFirst, headerLine } from './comments.js';

export { formatYaml } from './format-yaml.js';

/**
 * The canonical .ft text of a file: 2-space indent, '=' aligned within each block, one blank line
 * between stages, short lists on one line, strings re-escaped, numbers exactly as written, a nested
 * block written `key { ... }` (never `key = { ... }`), the `pipeline` header first.
 * Comments keep their place (above a node, or at the end of its line). Printing only looks at the
 * AST and the comments' lines, so formatting a formatted file changes nothing.
 */
export function formatFt(file: FileNode): string {
  const ast = headerFirst(file);
  const out: string[] = [];
  const comments = new CommentCursor(ast.comments);
  ast.stages.forEach((stage, i) => {
    if (i > 0) out.push('');
    for (const c of comments.leading(stage.range.line)) {
      out.push(c.text);
      if (c.blankAfter) out.push('');
    }
    printStage(stage, comments, out);
  });
  const rest = comments.rest();
  if (rest.length > 0 && out.length > 0) out.push('');
  out.push(...rest);
  return out.length === 0 ? '' : out.join('\n').replace(/\n{3,}/g, '\n\n') + '\n';
}

/** `ftc convert --to ft`: the canonical text, minus the YAML-only editor hint comment. */
export function toFt(ast: FileNode): string {
  return formatFt({ ...ast, comments: ast.comments.filter((c) => !isYamlSchemaComment(c.text)) });
}

export function isYamlSchemaComment(text: string): boolean {
  return /^#\s*yaml-language-server:/.test(text);
}

const WIDTH = 80;
const INDENT = '  ';

function printStage(stage: StageNode, comments: CommentCursor, out: string[]): void {
  const head = `${stage.kind} ${stage.name} {`;
  const headLine = headerLine(stage);
  if (stage.entries.length === 0 && !hasCommentBefore(comments, stage.range.endLine)) {
    out.push(withComment(`${stage.kind} ${stage.name} {}`, comments.trailing(stage.range.endLine)));
    return;
  }
  const headComment = stage.entries[0]?.range.line === headLine ? undefined : comments.trailing(headLine);
  out.push(withComment(head, headComment));
  printEntries(stage.entries, INDENT, comments, out);
  for (const c of comments.leading(stage.range.endLine)) out.push(INDENT + c.text);
  out.push(withComment('}', comments.trailing(stage.range.endLine)));
}

function hasCommentBefore(comments: CommentCursor, line: number): boolean {
  const next = comments.peekLine();
  return next !== undefined && next < line;
}

function printEntries(entries: EntryNode[], indent: string, comments: CommentCursor, out: string[]): void {
  // A block value prints as `key {` (the canonical form of `key = { ... }`): no '=' to align.
  const isBlock = (e: EntryNode): boolean => e.value?.type === 'block';
  const width = Math.max(0, ...entries.filter((e) => !isBlock(e)).map((e) => e.key.length));
  entries.forEach((e, i) => {
    for (const c of comments.leading(e.range.line)) out.push(indent + c.text);
    const prefix = isBlock(e) ? `${indent}${e.key} ` : `${indent}${e.key.padEnd(width)} = `;
    if (e.value) printValue(e.value, prefix, indent, comments, out);
    else out.push(prefix.trimEnd());
    // a comment on a line shared with the next entry belongs after that one
    const sharesLine = entries[i + 1]?.range.line === e.range.endLine;
    if (!sharesLine) out[out.length - 1] = withComment(out[out.length - 1], comments.trailing(e.range.endLine));
  });
}

/** Appends `value` to a line that starts with `prefix`; multi-line values continue below at `indent`. */
function printValue(v: ValueNode, prefix: string, indent: string, comments: CommentCursor, out: string[]): void {
  if (v.type === 'list') {
    const inline = comments.hasCommentWithin(v.range) ? undefined : inlineValue(v);
    if (inline !== undefined && prefix.length + inline.length <= WIDTH) {
      out.push(prefix + inline);
      return;
    }
    out.push(prefix + '[');
    v.items.forEach((item, i) => {
      for (const c of comments.leading(item.range.line)) out.push(indent + INDENT + c.text);
      printValue(item, indent + INDENT, indent + INDENT, comments, out);
      out[out.length - 1] += ',';
      if (v.items[i + 1]?.range.line !== item.range.endLine) out[out.length - 1] = withComment(out[out.length - 1], comments.trailing(item.range.endLine));
    });
    for (const c of comments.leading(v.range.endLine)) out.push(indent + INDENT + c.text); // after the last item
    out.push(indent + ']');
    return;
  }
  if (v.type === 'block') {
    if (v.entries.length === 0) {
      out.push(prefix + '{}');
      return;
    }
    out.push(prefix + '{');
    printEntries(v.entries, indent + INDENT, comments, out);
    out.push(indent + '}');
    return;
  }
  out.push(prefix + scalar(v));
}

/** The one-line form of a value, or undefined when it holds a block (blocks always take lines). */
function inlineValue(v: ValueNode): string | undefined {
  if (v.type === 'block') return undefined;
  if (v.type !== 'list') return scalar(v);
  const items: string[] = [];
  for (const item of v.items) {
    const s = inlineValue(item);
    if (s === undefined) return undefined;
    items.push(s);
  }
  return `[${items.join(', ')}]`;
}

const NUMBER = /^-?\d(?:_?\d)*(?:\.\d(?:_?\d)*)?(?:[eE][+-]?\d(?:_?\d)*)?$/;

export function scalar(v: ValueNode): string {
  switch (v.type) {
    case 'string':
      return quote(v.value);
    case 'number':
      return NUMBER.test(v.raw) ? v.raw : String(v.value);
    case 'boolean':
      return String(v.value);
    case 'ident':
      return v.name;
    default:
      throw new Error(`scalar() called on a ${v.type}`);
  }
}

/** Canonical escapes: \" \\ \n \t \r \0, other control characters as \u{..}; everything else as is. */
export function quote(s: string): string {
  let out = '"';
  for (const ch of s) {
    const cp = ch.codePointAt(0) as number;
    if (ch === '"') out += '\\"';
    else if (ch === '\\') out += '\\\\';
    else if (ch === '\n') out += '\\n';
    else if (ch === '\t') out += '\\t';
    else if (ch === '\r') out += '\\r';
    else if (ch === '\0') out += '\\0';
    else if (cp < 0x20 || cp === 0x7f || (cp >= 0x80 && cp < 0xa0) || cp === 0x2028 || cp === 0x2029) out += `\\u{${cp.toString(16)}}`;
    else out += ch;
  }
  return out + '"';
}

function withComment(line: string, comment: string | undefined): string {
  return comment ? `${line}  ${comment}` : line;
}
