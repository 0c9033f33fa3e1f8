import { FoldingRangeKind, SymbolKind, type DocumentSymbol, type FoldingRange } from 'vscode-languageserver';
import type { EntryNode, ValueNode } from '../compiler/ast.js';
import { scalar } from '../compiler/format.js';
import type { Analysis } from './analysis.js';
import { toLspRange } from './positions.js';

/** The outline: one symbol per stage (the header as a namespace), its keys as children. */
export function documentSymbols(a: Analysis): DocumentSymbol[] {
  return a.result.ast.stages.map((s) => ({
    name: s.name || `(unnamed ${s.kind})`, // LSP rejects empty symbol names
    detail: s.kind,
    kind: s.kind === 'pipeline' ? SymbolKind.Namespace : SymbolKind.Class,
    range: toLspRange(s.range),
    selectionRange: toLspRange(s.name ? s.nameRange : s.kindRange),
    children: s.entries.map(entrySymbol),
  }));
}

function entrySymbol(e: EntryNode): DocumentSymbol {
  const v = e.value;
  return {
    name: e.key,
    detail: v ? summary(v) : '',
    kind: v?.type === 'block' ? SymbolKind.Object : v?.type === 'list' ? SymbolKind.Array : SymbolKind.Property,
    range: toLspRange(e.range),
    selectionRange: toLspRange(e.keyRange),
    children: v?.type === 'block' ? v.entries.map(entrySymbol) : undefined,
  };
}

function summary(v: ValueNode): string {
  if (v.type === 'list') return `[${v.items.map(summary).join(', ')}]`;
  if (v.type === 'block') return '{…}';
  return scalar(v);
}

/** Folding: every stage, nested block and list that spans lines, and runs of comment lines. */
export function foldingRanges(a: Analysis): FoldingRange[] {
  const out: FoldingRange[] = [];
  const add = (start: number, end: number, kind?: FoldingRangeKind): void => {
    if (end > start) out.push({ startLine: start - 1, endLine: end - 1, ...(kind ? { kind } : {}) });
  };
  const walk = (v: ValueNode | undefined): void => {
    if (v?.type === 'block' || v?.type === 'list') {
      add(v.range.line, v.range.endLine);
      if (v.type === 'block') v.entries.forEach((e) => walk(e.value));
      else v.items.forEach(walk);
    }
  };
  for (const s of a.result.ast.stages) {
    add(s.range.line, s.range.endLine);
    s.entries.forEach((e) => walk(e.value));
  }
  const lines = [...new Set(a.result.ast.comments.map((c) => c.range.line))].sort((x, y) => x - y);
  for (let i = 0; i < lines.length; ) {
    let j = i;
    while (j + 1 < lines.length && lines[j + 1] === lines[j]! + 1) j++;
    add(lines[i]!, lines[j]!, FoldingRangeKind.Comment);
    i = j + 1;
  }
  return out;
}
