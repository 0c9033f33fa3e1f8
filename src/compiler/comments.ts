import type { Comment, FileNode, StageNode } from './ast.js';
import type { SourceRange } from './diagnostics.js';

/**
 * Hands out a file's comments in source order while a formatter walks the AST in source order:
 * comments above a node lead it, a comment on the line where a node ends trails it.
 * Used by both the .ft and the YAML printers, so comments survive `fmt` and `convert`.
 */
export class CommentCursor {
  private readonly comments: Comment[];
  private next = 0;

  constructor(comments: readonly Comment[]) {
    this.comments = [...comments].sort((a, b) => a.range.line - b.range.line || a.range.column - b.range.column);
  }

  /**
   * The comments that start before `line`, each marked with whether a blank line followed it in the
   * source (so a file's header comment stays separated from the first stage when it was).
   */
  leading(line: number): { text: string; blankAfter: boolean }[] {
    const out: { text: string; blankAfter: boolean }[] = [];
    while (this.next < this.comments.length && this.comments[this.next].range.line < line) {
      const c = this.comments[this.next++];
      const following = this.comments[this.next];
      const nextLine = following && following.range.line < line ? following.range.line : line;
      out.push({ text: c.text, blankAfter: nextLine > c.range.line + 1 });
    }
    return out;
  }

  /** The comment on `line`, if the next one is there. */
  trailing(line: number): string | undefined {
    const c = this.comments[this.next];
    if (c && c.range.line === line) {
      this.next++;
      return c.text;
    }
    return undefined;
  }

  /** The line of the next comment not yet handed out. */
  peekLine(): number | undefined {
    return this.comments[this.next]?.range.line;
  }

  /**
   * Whether a comment not yet handed out sits inside a multi-line node (on a line before its last):
   * such a node must be printed on lines of its own for the comment to keep its place.
   */
  hasCommentWithin(range: { line: number; endLine: number }): boolean {
    const next = this.peekLine();
    return next !== undefined && next >= range.line && next < range.endLine;
  }

  /** Whatever is left after the last node: the end of the file. */
  rest(): string[] {
    return this.comments.slice(this.next).map((c) => c.text);
  }
}

/** The line a stage starts on: `KIND NAME {` in .ft; in YAML the name's line comes before `kind:`. */
export function headerLine(stage: StageNode): number {
  return Math.min(stage.kindRange.line, stage.nameRange.line);
}

/**
 * The canonical order puts the `pipeline` header first. When a file has it further down, the header
 * and the comments above and inside it move to the top: their lines are shifted before line 1, so
 * the printers, which place comments by line, keep each comment with its node. Other comments stay
 * with the stages they were above (a file's opening comment then leads its first stage, below the header).
 */
export function headerFirst(ast: FileNode): FileNode {
  const at = ast.stages.findIndex((s) => s.kind === 'pipeline');
  if (at <= 0) return ast;
  const header = ast.stages[at]!;
  const after = ast.stages[at - 1]!.range.endLine; // a comment on that line trails the stage before
  const end = header.range.endLine;
  const delta = -(end + 1);
  const owned = (c: Comment) => c.range.line > after && c.range.line <= end;
  return {
    ...ast,
    stages: [shiftLines(header, delta), ...ast.stages.filter((_, i) => i !== at)],
    comments: ast.comments.map((c) => (owned(c) ? shiftLines(c, delta) : c)),
  };
}

/** A copy of a node with every range (`range`, `keyRange`, `kindRange`...) moved by `delta` lines. */
function shiftLines<T>(node: T, delta: number): T {
  if (Array.isArray(node)) return node.map((n) => shiftLines(n, delta)) as T;
  if (node === null || typeof node !== 'object') return node;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(node)) {
    out[k] = /range$/i.test(k) && v && typeof v === 'object' ? { ...(v as SourceRange), line: (v as SourceRange).line + delta, endLine: (v as SourceRange).endLine + delta } : shiftLines(v, delta);
  }
  return out as T;
}
