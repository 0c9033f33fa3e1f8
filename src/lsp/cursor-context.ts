import type { IToken } from 'chevrotain';
import { Equals, False, Identifier, LCurly, LSquare, NumberLiteral, RCurly, RSquare, StringLiteral, tokenize, True } from '../compiler/lexer.js';
import { stageSchema } from './schema-doc.js';

/**
 * Where the cursor is, from a light scan of the tokens rather than from the AST: while a user types,
 * the file is usually broken (`precision = ` with no value yet, a stage not closed), and the parser's
 * recovery cannot say what was about to be written. The scan tracks only braces, brackets and
 * `key =`, with the parser's own rule that `IDENT IDENT {` always starts a new stage.
 */
export type CursorContext =
  | { where: 'top' }
  | { where: 'stage-header' }
  | { where: 'key'; frame: Frame }
  | { where: 'value'; frame: Frame; key: string; inList: boolean }
  | { where: 'none' };

export interface Frame {
  type: 'stage' | 'block' | 'list';
  /** The stage kind and name of the enclosing stage. */
  kind: string;
  name: string;
  /** Where the stage's kind token starts (0-based offset), to find it in the AST. */
  stageOffset: number;
  /** Key path from the stage to this frame: [] for the stage itself, ['train'] inside `train { }`. */
  path: string[];
  /** Keys set directly in this frame, anywhere in it (also after the cursor). */
  keys: Set<string>;
  /** For a list frame: the key whose value it is. */
  key?: string;
}

export interface ScanResult {
  context: CursorContext;
  /** The partial word under the cursor (replaced by a completion), as offsets [start, end). */
  prefix?: { start: number; end: number; text: string };
  /** Every `KIND NAME {` header in the file, broken or not. */
  headers: { kind: string; name: string }[];
}

const isWord = (t: IToken): boolean => [Identifier, True, False, NumberLiteral].includes(t.tokenType);

export function scanAt(text: string, offset: number): ScanResult {
  const { tokens, comments } = tokenize(text, '');
  // Inside a comment or a string nothing is completed.
  const within = (t: IToken): boolean => t.startOffset < offset && offset <= (t.endOffset ?? t.startOffset) + (t.tokenType === StringLiteral && isClosed(t) ? 0 : 1);
  if (comments.some(within) || tokens.some((t) => t.tokenType === StringLiteral && within(t))) {
    return { context: { where: 'none' }, headers: [] };
  }
  const headers: { kind: string; name: string }[] = [];
  const stack: Frame[] = [];
  let context: CursorContext | undefined;
  let prefix: ScanResult['prefix'];
  let prev: IToken | undefined; // the last token before the cursor, the prefix excluded

  const decide = (): CursorContext => {
    const top = stack[stack.length - 1];
    if (!top) {
      // `KIND |` or `KIND NAME |`: a name or '{' comes next, nothing to offer.
      return prev && prev.tokenType === Identifier && prevAtTop ? { where: 'stage-header' } : { where: 'top' };
    }
    if (top.type === 'list') return { where: 'value', frame: top, key: top.key ?? '', inList: true };
    if (prev?.tokenType === Equals && pendingKey) return { where: 'value', frame: top, key: pendingKey, inList: false };
    return { where: 'key', frame: top };
  };

  let pendingKey: string | undefined; // `key =` seen, value not yet
  let prevAtTop = false; // whether `prev` is a lone identifier at depth 0 (a kind awaiting its name)
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i]!;
    const end = (t.endOffset ?? t.startOffset) + 1;
    if (context === undefined && t.startOffset >= offset) context = decide();
    if (context === undefined && end === offset && isWord(t)) {
      prefix = { start: t.startOffset, end, text: t.image };
      context = decide();
    }
    const next = tokens[i + 1];
    const next2 = tokens[i + 2];
    if (t.tokenType === Identifier && next?.tokenType === Identifier && next2?.tokenType === LCurly) {
      // a stage header closes whatever was left open, as the parser's recovery does
      stack.length = 0;
      headers.push({ kind: t.image, name: next.image });
      if (context === undefined && offset > end && offset <= next2.startOffset) context = { where: 'stage-header' };
      stack.push({ type: 'stage', kind: t.image, name: next.image, stageOffset: t.startOffset, path: [], keys: new Set() });
      if (context === undefined) prev = next2;
      pendingKey = undefined;
      prevAtTop = false;
      i += 2;
      continue;
    }
    const top = stack[stack.length - 1];
    if (t.tokenType === Equals && tokens[i - 1]?.tokenType === Identifier && top && top.type !== 'list') {
      pendingKey = tokens[i - 1]!.image;
      top.keys.add(pendingKey);
    } else if (t.tokenType === Identifier && next?.tokenType === LCurly && top && top.type !== 'list') {
      // `key { ... }`: the shorthand (and canonical form) of `key = { ... }`
      pendingKey = t.image;
      top.keys.add(pendingKey);
    } else if (t.tokenType === LCurly && top) {
      stack.push({ ...top, type: 'block', path: top.type === 'list' ? top.path : [...top.path, pendingKey ?? ''], keys: new Set() });
      pendingKey = undefined;
    } else if (t.tokenType === LSquare && top) {
      stack.push({ ...top, type: 'list', key: pendingKey, keys: new Set() });
      pendingKey = undefined;
    } else if ((t.tokenType === RCurly && top?.type !== 'list') || (t.tokenType === RSquare && top?.type === 'list')) {
      stack.pop();
      pendingKey = undefined;
    } else if (t.tokenType !== Equals && tokens[i + 1]?.tokenType !== Equals) {
      pendingKey = undefined; // a value: the entry is complete
    }
    if (context === undefined) {
      prev = t;
      const before = tokens[i - 1];
      const kindAwaitingName = isKindLike(t.image) && before?.tokenType !== Identifier;
      const nameAwaitingBrace = before?.tokenType === Identifier && isKindLike(before.image);
      prevAtTop = stack.length === 0 && t.tokenType === Identifier && (kindAwaitingName || nameAwaitingBrace);
    }
  }
  return { context: context ?? decide(), prefix, headers };
}

/** A word at top level followed by the cursor is a stage kind waiting for its name only if it is a kind. */
function isKindLike(word: string): boolean {
  return stageSchema(word) !== undefined;
}

function isClosed(t: IToken): boolean {
  return t.image.length >= 2 && t.image.endsWith('"') && !t.image.endsWith('\\"');
}
