import { readLines } from './lines.js';
import type { RowSource } from './types.js';

/**
 * JSON Lines: one JSON value per line. Blank lines are ignored; row numbers are line
 * numbers (1-based) so that an error points at the line an editor shows.
 */
export async function* readJsonl(file: string): RowSource {
  for await (const { text, line } of readLines(file)) {
    if (text.trim() === '') continue;
    try {
      yield { row: line, line, value: JSON.parse(text) };
    } catch (e) {
      yield { row: line, line, error: `invalid JSON: ${(e as Error).message}` };
    }
  }
}
