import { Composer, isAlias, isMap, isScalar, isSeq, LineCounter, Parser, Scalar, type Document, type Node, type Pair } from 'yaml';
import type { Comment, EntryNode, FileNode, StageNode, ValueNode } from './ast.js';
import type { Diagnostic, SourceRange } from './diagnostics.js';
import { firstTooDeepYaml, tooDeep } from './nesting.js';

/**
 * The YAML form of a pipeline (`*.ft.yaml`) read into the same AST as the .ft text:
 *
 *     pipeline: { name: alpaca_lora, seed: 42 }     # the header; `name` becomes the stage name
 *     stages:
 *       raw: { kind: data, source: ../data/x.json } # mapping order is stage order
 *
 * Plain scalars are read the way the .ft lexer would read them, so both forms give the same AST:
 * `true`/`false` are booleans, `2e-4`/`1_000` numbers, `raw`/`fp16` identifiers; quoted scalars are strings.
 * Problems with YAML syntax are E0002; a document whose shape is not a pipeline is E0003.
 */
export function parseYaml(text: string, file: string): { ast: FileNode; diagnostics: Diagnostic[] } {
  const lines = new LineCounter();
  const cst = [...new Parser(lines.addNewLine).parse(text)];
  const deep = firstTooDeepYaml(cst);
  if (deep !== undefined) {
    const r = new YamlReader(file, lines, text);
    return { ast: { file, stages: [], comments: [] }, diagnostics: [tooDeep(file, r.range(deep, deep + 1), 'YAML mappings and lists')] };
  }
  const docs = [...new Composer({ uniqueKeys: false, lineCounter: lines }).compose(cst)];
  const r = new YamlReader(file, lines, text);
  const comments: Comment[] = [];
  collectComments(cst, (offset, source) => comments.push({ text: source.replace(/\s+$/, ''), range: r.range(offset, offset + source.length) }));
  const stages: StageNode[] = [];
  for (const doc of docs) {
    for (const e of [...doc.errors, ...doc.warnings]) {
      const [start, end] = e.pos;
      r.report(e.message.split('\n')[0], r.range(start, Math.max(end, start + 1)), 'E0002', e.name === 'YAMLWarning' ? 'warning' : 'error');
    }
  }
  if (docs.length > 1) r.report('a pipeline file holds one YAML document', r.range(docs[1].range[0], docs[1].range[1]), 'E0003');
  if (docs[0]) stages.push(...r.readRoot(docs[0]));
  coverTrailingComments(stages, comments, r.rootKeyLines);
  leadFromStagesKey(r.firstListedStage, comments, r.rootKeyLines);
  return { ast: { file, stages, comments }, diagnostics: r.diagnostics.sort((a, b) => a.line - b.line || a.column - b.column) };
}

const IDENT = /^[A-Za-z_][A-Za-z0-9_.\-]*$/;
const FT_NUMBER = /^-?\d(?:_?\d)*(?:\.\d(?:_?\d)*)?(?:[eE][+-]?\d(?:_?\d)*)?$/;

class YamlReader {
  readonly diagnostics: Diagnostic[] = [];
  /** Lines of the top-level keys (`pipeline:`, `stages:`), which end whatever stage came before. */
  readonly rootKeyLines: number[] = [];
  /** The first stage under `stages:`: comments right above that key lead it (see `leadFromStagesKey`). */
  firstListedStage: StageNode | undefined;
  constructor(
    private readonly file: string,
    private readonly lines: LineCounter,
    private readonly text: string,
  ) {}

  range(start: number, end: number): SourceRange {
    const a = this.lines.linePos(start);
    const b = this.lines.linePos(end);
    return { line: Math.max(a.line, 1), column: a.col, endLine: Math.max(b.line, 1), endColumn: b.col };
  }

  nodeRange(n: Node | Pair['key']): SourceRange {
    const r = (n as Node | null)?.range;
    if (!r) return { line: 1, column: 1, endLine: 1, endColumn: 1 };
    // Block collections end where the next node starts; a range should end at its last character.
    let end = r[1];
    while (end > r[0] + 1 && /\s/.test(this.text[end - 1])) end--;
    return this.range(r[0], end);
  }

  report(message: string, range: SourceRange, code = 'E0003', severity: Diagnostic['severity'] = 'error'): void {
    this.diagnostics.push({ file: this.file, ...range, severity, code, message });
  }

  readRoot(doc: Document.Parsed): StageNode[] {
    const root = doc.contents;
    if (root === null || (isScalar(root) && root.value === null)) return [];
    if (!isMap(root)) {
      this.report("a pipeline is a mapping with 'pipeline' and 'stages' keys", this.nodeRange(root));
      return [];
    }
    const stages: StageNode[] = [];
    for (const pair of root.items) {
      this.rootKeyLines.push(this.nodeRange(pair.key as Node).line);
      const key = this.keyText(pair);
      if (key === 'pipeline') {
        const header = this.readHeader(pair);
        if (header) stages.push(header);
      } else if (key === 'stages') {
        if (isMap(pair.value)) {
          const before = stages.length;
          for (const p of pair.value.items) stages.push(...this.readStage(p));
          this.firstListedStage = stages[before];
        }
        else if (pair.value !== null) this.report("'stages' is a mapping from stage name to stage", this.nodeRange(pair.value as Node));
      } else if (key !== undefined) {
        this.report(`unknown top-level key '${key}': a pipeline has 'pipeline' and 'stages'`, this.nodeRange(pair.key as Node));
      }
    }
    return stages;
  }

  /** `pipeline: { name: x, ...settings }` → the `pipeline x { settings }` header stage. */
  private readHeader(pair: Pair): StageNode | undefined {
    const kindRange = this.nodeRange(pair.key as Node);
    if (!isMap(pair.value)) {
      this.report("'pipeline' is a mapping with at least a 'name'", pair.value ? this.nodeRange(pair.value as Node) : kindRange);
      return undefined;
    }
    const namePair = pair.value.items.find((p) => this.keyText(p) === 'name');
    const entries = this.readEntries(pair.value.items.filter((p) => p !== namePair));
    const nameNode = namePair?.value as Node | null | undefined;
    if (!namePair || !isScalar(nameNode) || typeof nameNode.value !== 'string' || !IDENT.test(nameNode.value)) {
      this.report("the pipeline needs a 'name' that is an identifier (letters, digits, '_', '-', '.')", nameNode ? this.nodeRange(nameNode) : kindRange);
      return { kind: 'pipeline', kindRange, name: '', nameRange: kindRange, entries, range: this.nodeRangeOfPair(pair) };
    }
    return { kind: 'pipeline', kindRange, name: nameNode.value, nameRange: this.nodeRange(nameNode), entries, range: this.nodeRangeOfPair(pair) };
  }

  /** `NAME: { kind: KIND, ...entries }` → `KIND NAME { entries }`. */
  private readStage(pair: Pair): StageNode[] {
    const name = this.keyText(pair);
    const nameRange = this.nodeRange(pair.key as Node);
    if (name === undefined) return [];
    if (!IDENT.test(name)) this.report(`stage name '${name}' is not an identifier (letters, digits, '_', '-', '.')`, nameRange);
    if (!isMap(pair.value)) {
      this.report(`stage '${name}' is a mapping with a 'kind' and its keys`, pair.value ? this.nodeRange(pair.value as Node) : nameRange);
      return [];
    }
    const kindPair = pair.value.items.find((p) => this.keyText(p) === 'kind');
    const kindNode = kindPair?.value as Node | null | undefined;
    const entries = this.readEntries(pair.value.items.filter((p) => p !== kindPair));
    const range = this.nodeRangeOfPair(pair);
    if (!kindPair || !isScalar(kindNode) || typeof kindNode.value !== 'string') {
      this.report(`stage '${name}' needs a 'kind' (data, preprocess, tokenizer, model, lora, trainer, export)`, kindNode ? this.nodeRange(kindNode) : nameRange);
      return [{ kind: '', kindRange: nameRange, name, nameRange, entries, range }];
    }
    return [{ kind: kindNode.value, kindRange: this.nodeRange(kindNode), name, nameRange, entries, range }];
  }

  private readEntries(pairs: Pair[]): EntryNode[] {
    const entries: EntryNode[] = [];
    for (const pair of pairs) {
      const key = this.keyText(pair);
      if (key === undefined) continue;
      const keyRange = this.nodeRange(pair.key as Node);
      if (!IDENT.test(key)) this.report(`key '${key}' is not an identifier (letters, digits, '_', '-', '.')`, keyRange);
      const value = this.readValue(pair.value as Node | null, keyRange, key);
      const range = value ? { ...keyRange, endLine: value.range.endLine, endColumn: value.range.endColumn } : keyRange;
      entries.push(value ? { key, keyRange, value, range } : { key, keyRange, range });
    }
    return entries;
  }

  private readValue(n: Node | null, keyRange: SourceRange, key: string): ValueNode | undefined {
    if (n === null || (isScalar(n) && n.value === null && n.type === Scalar.PLAIN && this.source(n) === '')) {
      this.report(`key '${key}' has no value`, keyRange, 'E0002');
      return undefined;
    }
    const range = this.nodeRange(n);
    if (isAlias(n)) {
      this.report('YAML aliases are not supported in pipelines: write the value out', range);
      return undefined;
    }
    if (isSeq(n)) {
      const items = n.items.map((i) => this.readValue(i as Node | null, range, key)).filter((v): v is ValueNode => v !== undefined);
      return { type: 'list', items, range };
    }
    if (isMap(n)) return { type: 'block', entries: this.readEntries(n.items as Pair[]), range };
    if (isScalar(n)) return this.readScalar(n, range);
    return undefined;
  }

  /** Plain scalars are read with the .ft lexer's rules (see the file comment); quoted ones are strings. */
  private readScalar(n: Scalar, range: SourceRange): ValueNode {
    if (n.type !== Scalar.PLAIN) return { type: 'string', value: String(n.value), range };
    const src = this.source(n);
    if (src === 'true' || src === 'false') return { type: 'boolean', value: src === 'true', range };
    if (FT_NUMBER.test(src)) return { type: 'number', value: Number(src.replace(/_/g, '')), raw: src, range };
    if (IDENT.test(src)) return { type: 'ident', name: src, range };
    if (typeof n.value === 'number') return { type: 'number', value: n.value, raw: String(n.value), range };
    if (typeof n.value === 'boolean') return { type: 'boolean', value: n.value, range };
    return { type: 'string', value: String(n.value ?? src), range };
  }

  private source(n: Scalar): string {
    return typeof n.source === 'string' ? n.source : String(n.value ?? '');
  }

  private keyText(pair: Pair): string | undefined {
    const k = pair.key as Node | null;
    if (isScalar(k) && k.value !== null && typeof k.value !== 'object') return String(k.value);
    this.report('keys must be plain names', k ? this.nodeRange(k) : { line: 1, column: 1, endLine: 1, endColumn: 1 });
    return undefined;
  }

  private nodeRangeOfPair(pair: Pair): SourceRange {
    const k = this.nodeRange(pair.key as Node);
    const v = pair.value ? this.nodeRange(pair.value as Node) : k;
    return { line: k.line, column: k.column, endLine: v.endLine, endColumn: v.endColumn };
  }
}

/**
 * Comments indented under a stage after its last entry belong to the stage (in .ft they sit
 * before its '}'); stretch the stage's range over them so that `convert --to ft` keeps them inside.
 */
function coverTrailingComments(stages: StageNode[], comments: Comment[], rootKeyLines: number[]): void {
  stages.forEach((stage, i) => {
    const start = stage.kind === 'pipeline' ? stage.kindRange : stage.nameRange;
    const bound = Math.min(stages[i + 1]?.range.line ?? Infinity, ...rootKeyLines.filter((l) => l > start.line));
    let last: number | undefined;
    for (const c of comments) {
      if (c.range.line <= stage.range.endLine || c.range.line >= bound) continue;
      if (c.range.column <= start.column) break;
      last = c.range.line;
    }
    if (last !== undefined) stage.range = { ...stage.range, endLine: last + 1, endColumn: 1 };
  });
}

/**
 * Comments right above `stages:` sit, in .ft, right above the first stage: when nothing comes between
 * the key and that stage, start the stage's range at the key so those comments stay attached to it.
 */
function leadFromStagesKey(first: StageNode | undefined, comments: Comment[], rootKeyLines: number[]): void {
  if (!first) return;
  const keyLine = Math.max(...rootKeyLines.filter((l) => l < first.range.line));
  if (!Number.isFinite(keyLine) || comments.some((c) => c.range.line > keyLine && c.range.line < first.range.line)) return;
  first.range = { ...first.range, line: keyLine, column: 1 };
}

/** Comments live in YAML's concrete syntax tree as tokens of type 'comment'; walk it for them all. */
function collectComments(root: unknown, found: (offset: number, source: string) => void): void {
  // An explicit stack, in document order: a deep document cannot overflow the call stack.
  const stack: unknown[] = [root];
  while (stack.length) {
    const node = stack.pop();
    if (typeof node !== 'object' || node === null) continue;
    const t = node as { type?: string; offset?: number; source?: string };
    if (t.type === 'comment' && typeof t.offset === 'number' && typeof t.source === 'string') {
      found(t.offset, t.source);
      continue;
    }
    const children = Array.isArray(node) ? node : Object.values(node);
    for (let i = children.length - 1; i >= 0; i--) if (typeof children[i] === 'object') stack.push(children[i]);
  }
}
