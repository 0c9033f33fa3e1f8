import type { Comment, StageNode } from './ast.js';

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

  /** Whatever is left after the last node: the end of the file. */
  rest(): string[] {
    return this.comments.slice(this.next).map((c) => c.text);
  }
}

/** The line a stage starts on: `KIND NAME {` in .ft; in YAML the name's line comes before `kind:`. */
export function headerLine(stage: StageNode): number {
  return Math.min(stage.kindRange.line, stage.nameRange.line);
}
