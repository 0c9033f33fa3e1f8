import { readChunks } from './lines.js';
import { FileFault, type RowSource } from './types.js';

const QUOTE = 0x22, BACKSLASH = 0x5c, COMMA = 0x2c, NL = 0x0a;
const LBRACE = 0x7b, RBRACE = 0x7d, LBRACKET = 0x5b, RBRACKET = 0x5d;

function isSpace(c: number): boolean {
  return c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;
}

const enum Phase {
  Start, // before '['
  Between, // after '[' or ',': an element or ']' comes next
  InElement,
  After, // after an element: ',' or ']' comes next
  End, // after the closing ']'
}

/**
 * A JSON array of records, streamed: a small scanner finds where each top-level element
 * begins and ends (tracking strings, escapes and bracket depth) and only that element is
 * handed to JSON.parse. Memory holds one element, never the whole file, and a malformed
 * element is one bad row (the 1-based element index) rather than a failed file.
 */
export async function* readJsonArray(file: string): RowSource {
  let phase = Phase.Start as Phase;
  let depth = 0;
  let inString = false;
  let escaped = false;
  let stringElement = false; // a top-level "string" element
  let bareElement = false; // a number/true/false/null (or garbage) element
  let pieces: string[] = [];
  let row = 0;
  let line = 1;
  let elementLine = 1;

  const finish = (text: string) => {
    row++;
    try {
      return { row, line: elementLine, value: JSON.parse(text) as unknown };
    } catch (e) {
      return { row, line: elementLine, error: `invalid JSON: ${(e as Error).message}` };
    }
  };

  for await (const chunk of readChunks(file)) {
    let start = 0; // where the current element's text begins in this chunk
    for (let i = 0; i < chunk.length; i++) {
      const c = chunk.charCodeAt(i);
      if (c === NL) line++;
      if (phase === Phase.InElement) {
        if (inString) {
          if (escaped) escaped = false;
          else if (c === BACKSLASH) escaped = true;
          else if (c === QUOTE) {
            inString = false;
            if (stringElement) {
              yield finish(take(pieces, chunk, start, i + 1));
              pieces = [];
              phase = Phase.After;
            }
          }
          continue;
        }
        if (bareElement) {
          if (c === COMMA || c === RBRACKET || isSpace(c)) {
            yield finish(take(pieces, chunk, start, i));
            pieces = [];
            phase = c === COMMA ? Phase.Between : c === RBRACKET ? Phase.End : Phase.After;
          }
          continue;
        }
        if (c === QUOTE) inString = true;
        else if (c === LBRACE || c === LBRACKET) depth++;
        else if (c === RBRACE || c === RBRACKET) {
          if (--depth === 0) {
            yield finish(take(pieces, chunk, start, i + 1));
            pieces = [];
            phase = Phase.After;
          }
        }
        continue;
      }
      if (isSpace(c)) continue;
      switch (phase) {
        case Phase.Start:
          if (c !== LBRACKET) {
            throw new FileFault(
              'expected a JSON array of records (the file should start with "[")',
              { line },
              c === LBRACE ? 'for one JSON object per line use a .jsonl file or set format = jsonl' : undefined,
            );
          }
          phase = Phase.Between;
          break;
        case Phase.Between:
          if (c === RBRACKET) {
            phase = Phase.End; // an empty array, or a trailing comma (tolerated)
            break;
          }
          phase = Phase.InElement;
          start = i;
          elementLine = line;
          depth = c === LBRACE || c === LBRACKET ? 1 : 0;
          stringElement = c === QUOTE;
          inString = stringElement;
          bareElement = depth === 0 && !stringElement;
          break;
        case Phase.After:
          if (c === COMMA) phase = Phase.Between;
          else if (c === RBRACKET) phase = Phase.End;
          else throw new FileFault(`expected "," or "]" after row ${row}, found ${JSON.stringify(chunk[i])}`, { row, line });
          break;
        case Phase.End:
          throw new FileFault(`unexpected ${JSON.stringify(chunk[i])} after the closing "]"`, { line });
      }
    }
    if (phase === Phase.InElement) pieces.push(chunk.slice(start));
  }
  if (phase === Phase.InElement && bareElement) {
    yield finish(pieces.join(''));
    phase = Phase.After;
  }
  if (phase === Phase.InElement) {
    throw new FileFault(`the file ends inside row ${row + 1} (unterminated ${inString ? 'string' : 'object'})`, {
      row: row + 1,
      line: elementLine,
    }, 'the file looks truncated');
  }
  if (phase !== Phase.End) {
    throw new FileFault('the file ends before the closing "]" of the array', { line }, 'the file looks truncated');
  }
}

function take(pieces: string[], chunk: string, start: number, end: number): string {
  const tail = chunk.slice(start, end);
  return pieces.length ? pieces.join('') + tail : tail;
}
