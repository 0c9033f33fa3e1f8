import type { Position } from 'vscode-languageserver';
import type { EntryNode, FileNode, StageNode, ValueNode } from '../compiler/ast.js';
import type { SourceRange } from '../compiler/diagnostics.js';
import { touches } from './positions.js';
import { keySchemaAt } from './schema-doc.js';

/** What the cursor is on, found in the (possibly recovered) AST. `path` is the key path inside the stage. */
export type Hit =
  | { type: 'kind'; stage: StageNode }
  | { type: 'name'; stage: StageNode }
  | { type: 'key'; stage: StageNode; path: string[]; entry: EntryNode }
  | { type: 'value'; stage: StageNode; path: string[]; entry: EntryNode; value: ValueNode };

export function nodeAt(ast: FileNode, pos: Position): Hit | undefined {
  for (const stage of ast.stages) {
    if (!touches(stage.range, pos) && !touches(stage.kindRange, pos)) continue;
    if (touches(stage.kindRange, pos)) return { type: 'kind', stage };
    if (stage.name && touches(stage.nameRange, pos)) return { type: 'name', stage };
    const hit = inEntries(stage, stage.entries, [], pos);
    if (hit) return hit;
  }
  return undefined;
}

function inEntries(stage: StageNode, entries: EntryNode[], path: string[], pos: Position): Hit | undefined {
  for (const entry of entries) {
    if (!touches(entry.range, pos)) continue;
    const here = [...path, entry.key];
    if (touches(entry.keyRange, pos)) return { type: 'key', stage, path: here, entry };
    if (entry.value) return inValue(stage, entry, entry.value, here, pos);
  }
  return undefined;
}

function inValue(stage: StageNode, entry: EntryNode, v: ValueNode, path: string[], pos: Position): Hit | undefined {
  if (v.type === 'block') return inEntries(stage, v.entries, path, pos);
  if (v.type === 'list') {
    const item = v.items.find((i) => touches(i.range, pos));
    return item ? inValue(stage, entry, item, path, pos) : undefined;
  }
  return touches(v.range, pos) ? { type: 'value', stage, path, entry, value: v } : undefined;
}

/** The stages by name, first one wins (as the validator resolves references); the header has no stage name. */
export function stagesByName(ast: FileNode): Map<string, StageNode> {
  const m = new Map<string, StageNode>();
  for (const s of ast.stages) if (s.kind !== 'pipeline' && s.name && !m.has(s.name)) m.set(s.name, s);
  return m;
}

/** Every reference in the file: the identifier values of top-level `x-ref` keys, with the name they use. */
export function references(ast: FileNode): { name: string; range: SourceRange; from: StageNode }[] {
  const out: { name: string; range: SourceRange; from: StageNode }[] = [];
  for (const stage of ast.stages) {
    for (const e of stage.entries) {
      if (e.value?.type !== 'ident' || !keySchemaAt(stage.kind, [e.key])?.['x-ref']) continue;
      out.push({ name: e.value.name, range: e.value.range, from: stage });
    }
  }
  return out;
}

/** The stage name under the cursor, whether on a stage's own name or on a reference to it. */
export function stageNameAt(ast: FileNode, pos: Position): { name: string; range: SourceRange } | undefined {
  const hit = nodeAt(ast, pos);
  if (!hit) return undefined;
  if (hit.type === 'name' && hit.stage.kind !== 'pipeline') return { name: hit.stage.name, range: hit.stage.nameRange };
  if (hit.type === 'value' && hit.value.type === 'ident' && hit.path.length === 1 && keySchemaAt(hit.stage.kind, hit.path)?.['x-ref']) {
    return { name: hit.value.name, range: hit.value.range };
  }
  return undefined;
}

/** Declarations (every stage with the name, duplicates included) and uses of a stage name. */
export function occurrences(ast: FileNode, name: string): { declarations: SourceRange[]; uses: SourceRange[] } {
  const declarations = ast.stages.filter((s) => s.kind !== 'pipeline' && s.name === name).map((s) => s.nameRange);
  const uses = references(ast).filter((r) => r.name === name).map((r) => r.range);
  return { declarations, uses };
}
