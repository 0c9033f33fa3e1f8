import { CompletionItemKind, InsertTextFormat, type CompletionItem, type Position, type Range } from 'vscode-languageserver';
import type { EntryNode, StageNode } from '../compiler/ast.js';
import { schemas, STAGE_KINDS, type KeySchema } from '../schema/index.js';
import type { Analysis } from './analysis.js';
import { scanAt, type Frame } from './cursor-context.js';
import { allowedItems, allowedValues, defaultText, isBoolean, keyDetail, keyMarkdown, keySchemaAt, keysAt, kindMarkdown } from './schema-doc.js';

/**
 * Completion for .ft files: stage kinds at top level, the unset keys of the block being edited,
 * and values for a key (enum members, true/false, or, for a reference, the stages of the kinds it accepts).
 */
export function complete(a: Analysis, pos: Position): CompletionItem[] {
  if (a.yaml) return [];
  const text = a.doc.getText();
  const offset = a.doc.offsetAt(pos);
  const scan = scanAt(text, offset);
  const range: Range = scan.prefix ? { start: a.doc.positionAt(scan.prefix.start), end: pos } : { start: pos, end: pos };
  const ctx = scan.context;
  switch (ctx.where) {
    case 'top':
      return kindItems(a, range);
    case 'key':
      return keyItems(a, ctx.frame, scan.prefix?.start, range);
    case 'value': {
      const known = new Map<string, string>();
      for (const h of scan.headers) if (!known.has(h.name)) known.set(h.name, h.kind);
      for (const s of a.result.ast.stages) if (s.kind !== 'pipeline' && s.name && !known.has(s.name)) known.set(s.name, s.kind);
      known.delete(ctx.frame.name); // a stage never refers to itself
      const schema = keySchemaAt(ctx.frame.kind, [...ctx.frame.path, ctx.key]);
      return schema ? valueItems(schema, ctx.inList, known, range) : [];
    }
    default:
      return [];
  }
}

function kindItems(a: Analysis, range: Range): CompletionItem[] {
  const hasHeader = a.result.ast.stages.some((s) => s.kind === 'pipeline');
  const kinds = hasHeader ? [...STAGE_KINDS] : ['pipeline', ...STAGE_KINDS];
  return kinds.map((kind, i) => ({
    label: kind,
    kind: CompletionItemKind.Keyword,
    detail: `${kind} stage`,
    documentation: { kind: 'markdown', value: kindMarkdown(kind) ?? '' },
    insertTextFormat: InsertTextFormat.Snippet,
    textEdit: { range, newText: `${kind} \${1:name} {\n  $0\n}` },
    sortText: String(i).padStart(2, '0'),
  }));
}

function keyItems(a: Analysis, frame: Frame, prefixStart: number | undefined, range: Range): CompletionItem[] {
  const props = keysAt(frame.kind, frame.path);
  const set = new Set(frame.keys);
  for (const key of astKeys(a, frame, prefixStart)) set.add(key);
  const required = new Set(frame.path.length === 0 ? (schemas[frame.kind]?.required ?? []) : (keySchemaAt(frame.kind, frame.path)?.required ?? []));
  return Object.entries(props)
    .filter(([key]) => !set.has(key))
    .map(([key, s]) => ({
      label: key,
      kind: CompletionItemKind.Property,
      detail: keyDetail(s),
      documentation: { kind: 'markdown', value: keyMarkdown(frame.kind, [...frame.path, key], s) },
      textEdit: { range, newText: `${key} = ` },
      // required keys first, then in schema order
      sortText: `${required.has(key) ? 0 : 1}${String(Object.keys(props).indexOf(key)).padStart(3, '0')}`,
    }));
}

/** Keys the recovered AST has in the same block (the word being typed is not yet a key). */
function astKeys(a: Analysis, frame: Frame, prefixStart: number | undefined): string[] {
  const stage: StageNode | undefined = a.result.ast.stages.find((s) => a.doc.offsetAt({ line: s.kindRange.line - 1, character: s.kindRange.column - 1 }) === frame.stageOffset);
  if (!stage) return [];
  let entries: EntryNode[] = stage.entries;
  for (const key of frame.path) {
    const v = entries.find((e) => e.key === key)?.value;
    entries = v?.type === 'block' ? v.entries : [];
  }
  const typing = (e: EntryNode): boolean => prefixStart !== undefined && a.doc.offsetAt({ line: e.keyRange.line - 1, character: e.keyRange.column - 1 }) === prefixStart;
  return entries.filter((e) => !typing(e)).map((e) => e.key);
}

function valueItems(s: KeySchema, inList: boolean, stages: Map<string, string>, range: Range): CompletionItem[] {
  const refKinds = s['x-ref'];
  if (refKinds) {
    return [...stages]
      .filter(([, kind]) => refKinds.includes(kind))
      .map(([name, kind]) => ({ label: name, kind: CompletionItemKind.Reference, detail: `${kind} stage`, textEdit: { range, newText: name } }));
  }
  const def = defaultText(s);
  const values = inList ? allowedItems(s) : allowedValues(s);
  const items: CompletionItem[] = values.map((v) => ({
    label: v,
    kind: CompletionItemKind.EnumMember,
    detail: v === def ? 'default' : undefined,
    preselect: v === def,
    textEdit: { range, newText: v },
  }));
  // a list-valued key (target_modules): its default list as a starting point
  if (!inList && Array.isArray(s.default) && def !== undefined) items.push({ label: def, kind: CompletionItemKind.Value, detail: 'default', textEdit: { range, newText: def } });
  if (!inList && isBoolean(s)) {
    for (const b of ['true', 'false']) items.push({ label: b, kind: CompletionItemKind.Value, detail: b === def ? 'default' : undefined, preselect: b === def, textEdit: { range, newText: b } });
  }
  return items;
}
