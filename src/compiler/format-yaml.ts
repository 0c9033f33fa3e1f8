import type { EntryNode, FileNode, StageNode, ValueNode } from './ast.js';
import { CommentCursor, headerFirst, headerLine } from './comments.js';

/**
 * The YAML form of a file (`ftc convert --to yaml`), written so that reading it back gives the
 * same AST: strings double-quoted (JSON escapes are valid YAML), identifiers, numbers and booleans
 * plain, exactly as the YAML reader expects. Comments are carried as YAML comments.
 */
export function formatYaml(file: FileNode, opts: { schema?: string } = {}): string {
  const ast = headerFirst(file); // YAML has one `pipeline:` mapping, above `stages:`
  const out: string[] = [];
  if (opts.schema && !ast.comments.some((c) => /^#\s*yaml-language-server:/.test(c.text))) {
    out.push(`# yaml-language-server: $schema=${opts.schema}`);
  }
  const comments = new CommentCursor(ast.comments);
  const first = ast.stages[0];
  if (first) leading(comments, first.range.line, '', out); // the file's head comments stay at the top
  const header = first?.kind === 'pipeline' ? first : undefined;
  if (header) {
    const onHead = header.entries[0]?.range.line === headerLine(header) ? undefined : comments.trailing(headerLine(header));
    out.push(withComment('pipeline:', onHead));
    out.push(`  name: ${header.name}`);
    printEntries(header.entries, '  ', comments, out);
    closeStage(header, '  ', comments, out);
  }
  const rest = ast.stages.filter((s) => s !== header);
  if (rest.length > 0) {
    if (header) out.push('');
    out.push('stages:');
    rest.forEach((stage, i) => {
      if (i > 0) out.push('');
      leading(comments, stage.range.line, '  ', out);
      const onHead = stage.entries[0]?.range.line === headerLine(stage) ? undefined : comments.trailing(headerLine(stage));
      out.push(withComment(`  ${stage.name}:`, onHead));
      if (stage.kind !== '') out.push(`    kind: ${stage.kind}`);
      printEntries(stage.entries, '    ', comments, out);
      closeStage(stage, '    ', comments, out);
    });
  }
  const tail = comments.rest();
  if (tail.length > 0 && out.length > 0) out.push('');
  out.push(...tail);
  return out.length === 0 ? '' : out.join('\n') + '\n';
}

function leading(comments: CommentCursor, line: number, indent: string, out: string[]): void {
  for (const c of comments.leading(line)) {
    out.push(indent + c.text);
    if (c.blankAfter && indent === '') out.push('');
  }
}

/** Comments before and on a stage's closing line: YAML has no '}', so they become lines of their own. */
function closeStage(stage: StageNode, indent: string, comments: CommentCursor, out: string[]): void {
  leading(comments, stage.range.endLine, indent, out);
  const onClose = comments.trailing(stage.range.endLine);
  if (onClose) out.push(indent + onClose);
}

function printEntries(entries: EntryNode[], indent: string, comments: CommentCursor, out: string[]): void {
  entries.forEach((e, i) => {
    leading(comments, e.range.line, indent, out);
    if (e.value) printValue(e.value, `${indent}${e.key}:`, indent, comments, out);
    else out.push(`${indent}${e.key}:`);
    if (entries[i + 1]?.range.line !== e.range.endLine) out[out.length - 1] = withComment(out[out.length - 1], comments.trailing(e.range.endLine));
  });
}

const WIDTH = 80;

/** `prefix` is `key:` or `-`; block collections continue on the lines below, indented past `indent`. */
function printValue(v: ValueNode, prefix: string, indent: string, comments: CommentCursor, out: string[]): void {
  // a collection with comments between its items takes lines so that they keep their place (an empty one has no lines to take)
  const hasItems = v.type === 'list' ? v.items.length > 0 : v.type === 'block' && v.entries.length > 0;
  const inline = hasItems && comments.hasCommentWithin(v.range) ? undefined : inlineValue(v);
  // a scalar stays on its key's line however long it is: it has no lines to break into
  const scalar = v.type !== 'list' && v.type !== 'block';
  const fits = inline !== undefined && (v.type !== 'block' || v.entries.length === 0) && prefix.length + 1 + inline.length <= WIDTH;
  if (inline !== undefined && (scalar || fits)) {
    out.push(`${prefix} ${inline}`);
    return;
  }
  out.push(prefix);
  const inner = indent + '  ';
  if (v.type === 'block') {
    printEntries(v.entries, inner, comments, out);
    return;
  }
  if (v.type !== 'list') throw new Error('only collections span lines');
  v.items.forEach((item, i) => {
    leading(comments, item.range.line, inner, out);
    if (item.type === 'block' && item.entries.length > 0) {
      // `- key: value` with the rest of the mapping aligned under the first key
      const start = out.length;
      printEntries(item.entries, inner + '  ', comments, out);
      const firstEntry = out.findIndex((l, i) => i >= start && !l.trimStart().startsWith('#'));
      out[firstEntry] = `${inner}- ${out[firstEntry].slice(inner.length + 2)}`;
    } else {
      printValue(item, `${inner}-`, inner, comments, out);
      if (v.items[i + 1]?.range.line !== item.range.endLine) out[out.length - 1] = withComment(out[out.length - 1], comments.trailing(item.range.endLine));
    }
  });
}

/** The flow form of a value; strings use JSON escapes, which YAML's double-quoted style reads alike. */
function inlineValue(v: ValueNode): string | undefined {
  switch (v.type) {
    case 'string':
      return JSON.stringify(v.value);
    case 'number':
      return /^-?\d(?:_?\d)*(?:\.\d(?:_?\d)*)?(?:[eE][+-]?\d(?:_?\d)*)?$/.test(v.raw) ? v.raw : String(v.value);
    case 'boolean':
      return String(v.value);
    case 'ident':
      return v.name;
    case 'list': {
      const items = v.items.map(inlineValue);
      return items.every((i) => i !== undefined) ? `[${items.join(', ')}]` : undefined;
    }
    case 'block': {
      const parts = v.entries.map((e) => (e.value ? `${e.key}: ${inlineValue(e.value)}` : undefined));
      return parts.every((p) => p !== undefined && !p.endsWith('undefined')) ? `{ ${parts.join(', ')} }`.replace('{  }', '{}') : undefined;
    }
  }
}

function withComment(line: string, comment: string | undefined): string {
  return comment ? `${line}  ${comment}` : line;
}
