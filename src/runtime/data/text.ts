import { readFile } from 'node:fs/promises';
import { readLines } from './lines.js';
import type { RowSource } from './types.js';

export type TextMode = 'line' | 'file';

/**
 * Plain text. `line`: one record `{text}` per non-blank line (row = line number);
 * `file`: the whole file as one record `{text}` (it is read at once, by definition).
 */
export async function* readText(file: string, mode: TextMode): RowSource {
  if (mode === 'file') {
    let text = await readFile(file, 'utf8');
    if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
    yield { row: 1, line: 1, value: { text } };
    return;
  }
  for await (const { text, line } of readLines(file)) {
    if (text.trim() === '') continue;
    yield { row: line, line, value: { text } };
  }
}
