import type { EntryNode, FileNode, StageNode, ValueNode } from './ast.js';
import type { Diagnostic, SourceRange } from './diagnostics.js';
import { parseFt } from './parse.js';
import { OVERRIDE_FILE } from './validate/index.js';
import { didYouMean } from './validate/suggest.js';

export interface Overridden {
  ast: FileNode;
  diagnostics: Diagnostic[];
  /** Every range that came from an override: diagnostics there name `<--set>`, line = the override's position. */
  ranges: Set<SourceRange>;
}

// The value is parsed by the real .ft parser inside a one-entry block; its column is the prefix's length + 1.
const PREFIX = 'set o { v = ';

/**
 * Applies `--set stage.key=value` overrides to a copy of the AST (the original is untouched); the key
 * may be a dotted path into nested blocks (`--set tok.train.vocab_size=8000`). The value is an .ft value literal (`1e-4`, `fp16`, `"text"`, `[q_proj, v_proj]`) and is validated with
 * the file afterwards. Override number i is line i+1 of the `<--set>` pseudo-file, columns within it.
 */
export function applyOverrides(ast: FileNode, overrides: readonly string[]): Overridden {
  const diagnostics: Diagnostic[] = [];
  const ranges = new Set<SourceRange>();
  const stages = ast.stages.map((s) => ({ ...s, entries: [...s.entries] }));
  overrides.forEach((text, i) => {
    const line = i + 1;
    const at = (column: number, endColumn: number): SourceRange => {
      const r = { line, column, endLine: line, endColumn };
      ranges.add(r);
      return r;
    };
    const report = (code: string, r: SourceRange, message: string) => diagnostics.push({ file: OVERRIDE_FILE, severity: 'error', code, message, ...r });
    const m = /^\s*([^.=\s]+)\.([^.=\s]+(?:\.[^.=\s]+)*)\s*=\s*/.exec(text);
    if (!m) {
      report('E0110', at(1, text.length + 1), `--set "${text}" is not of the form stage.key=value (e.g. --set sft.lr=1e-4, or --set tok.train.vocab_size=8000 into a nested block).`);
      return;
    }
    const [, stageName, key] = m as unknown as [string, string, string];
    const stageCol = text.indexOf(stageName) + 1;
    const keyCol = stageCol + stageName.length + 1;
    const valueCol = m[0].length + 1;
    const stage = stages.find((s) => s.kind !== 'pipeline' && s.name === stageName) ?? (stageName === 'pipeline' ? stages.find((s) => s.kind === 'pipeline') : undefined);
    if (!stage) {
      const names = ['pipeline', ...stages.filter((s) => s.kind !== 'pipeline').map((s) => s.name)];
      report('E0111', at(stageCol, stageCol + stageName.length), `--set: no stage named '${stageName}'.${didYouMean(stageName, names)} Stages: ${names.join(', ')}.`);
      return;
    }
    const parsed = parseFt(`${PREFIX}${text.slice(m[0].length)}\n}`, OVERRIDE_FILE);
    const shift = (r: SourceRange): SourceRange =>
      r.line === 1 ? at(r.column - PREFIX.length - 1 + valueCol, (r.endLine === 1 ? r.endColumn : text.length + PREFIX.length + 1) - PREFIX.length - 1 + valueCol) : at(text.length + 1, text.length + 1);
    for (const d of parsed.diagnostics) diagnostics.push({ ...d, ...shift(d) });
    const value = parsed.ast.stages[0]?.entries[0]?.value;
    if (!value) {
      if (parsed.diagnostics.length === 0) report('E0110', at(valueCol, text.length + 1), `--set ${stageName}.${key}: missing value after '='.`);
      return;
    }
    // `key` may be a dotted path into nested blocks (`train.vocab_size`): blocks on the way are
    // copied (the file's AST stays untouched) or created when absent.
    const path = key.split('.');
    let entries = stage.entries;
    let col = keyCol;
    for (let depth = 0; depth < path.length - 1; depth++) {
      const seg = path[depth]!;
      const segRange = at(col, col + seg.length);
      const i = entries.findIndex((e) => e.key === seg);
      const found = i >= 0 ? entries[i]! : undefined;
      if (found?.value && found.value.type !== 'block') {
        const where = `${stageName}.${path.slice(0, depth + 1).join('.')}`;
        report('E0110', segRange, `--set ${stageName}.${key}: ${where} is not a block, so it has no key \`${path[depth + 1]}\`.`);
        return;
      }
      const inner: EntryNode[] = found?.value?.type === 'block' ? [...found.value.entries] : [];
      const block: EntryNode =
        found?.value?.type === 'block'
          ? { ...found, value: { ...found.value, entries: inner } }
          : { key: seg, keyRange: segRange, value: { type: 'block', entries: inner, range: segRange }, range: segRange };
      if (i >= 0) entries[i] = block;
      else entries.push(block);
      entries = inner;
      col += seg.length + 1;
    }
    const last = path[path.length - 1]!;
    const keyRange = at(col, col + last.length);
    const entry: EntryNode = { key: last, keyRange, value: remap(value, shift), range: at(col, text.length + 1) };
    const existing = entries.findIndex((e) => e.key === last);
    if (existing >= 0) entries[existing] = entry;
    else entries.push(entry);
  });
  return { ast: { ...ast, stages: stages as StageNode[] }, diagnostics, ranges };
}

function remap(v: ValueNode, shift: (r: SourceRange) => SourceRange): ValueNode {
  const range = shift(v.range);
  switch (v.type) {
    case 'list':
      return { ...v, range, items: v.items.map((x) => remap(x, shift)) };
    case 'block':
      return {
        ...v,
        range,
        entries: v.entries.map((e) => ({ ...e, keyRange: shift(e.keyRange), range: shift(e.range), value: e.value && remap(e.value, shift) })),
      };
    default:
      return { ...v, range };
  }
}
