import type { IToken } from 'chevrotain';
import type { Diagnostic, SourceRange } from './diagnostics.js';

/**
 * Lists and blocks nest at most this deep. A pipeline needs three or four levels; the bound keeps
 * every recursive phase (parser, AST builder, validators, formatter) far from the stack's limit on a
 * hostile file of 10,000 `[`. A file past it is reported once (E0004) and not parsed further.
 */
export const MAX_NESTING = 64;
export const TOO_DEEP = 'E0004';

export function tooDeep(file: string, range: SourceRange, what: string): Diagnostic {
  return {
    file, ...range, severity: 'error', code: TOO_DEEP,
    message: `${what} nest more than ${MAX_NESTING} levels deep here; a pipeline needs only a few levels, so this file is not read further.`,
  };
}

/** The first `{` or `[` token past MAX_NESTING, or undefined. */
export function firstTooDeepToken(tokens: readonly IToken[], open: ReadonlySet<string>, close: ReadonlySet<string>): IToken | undefined {
  let depth = 0;
  for (const t of tokens) {
    const name = t.tokenType.name;
    if (open.has(name) && ++depth > MAX_NESTING) return t;
    if (close.has(name) && depth > 0) depth--;
  }
  return undefined;
}

/** Offset of the first YAML collection (block or flow) nested past MAX_NESTING in a CST, found without recursion. */
export function firstTooDeepYaml(cst: readonly unknown[]): number | undefined {
  const stack: { node: unknown; depth: number }[] = cst.map((node) => ({ node, depth: 0 }));
  while (stack.length) {
    const { node, depth } = stack.pop()!;
    if (typeof node !== 'object' || node === null) continue;
    const t = node as { type?: string; offset?: number };
    const isCollection = t.type === 'block-map' || t.type === 'block-seq' || t.type === 'flow-collection';
    const d = depth + (isCollection ? 1 : 0);
    if (d > MAX_NESTING) return t.offset ?? 0;
    for (const v of Object.values(node)) if (typeof v === 'object' && v !== null) stack.push({ node: v, depth: d });
  }
  return undefined;
}
