import type { FtcError } from '../errors.js';
import { terminalSafe, terminalSafeLine } from '../terminal-safe.js';

/** `file:line:col: error[CODE]: message` plus the hint, the way every user-facing error reads. */
export function formatError(e: FtcError): string {
  const w = e.where;
  let at = '';
  if (w?.file) {
    at = terminalSafeLine(w.file);
    if (w.row !== undefined) at += `: row ${w.row}`;
    else if (w.line !== undefined) at += `:${w.line}${w.column !== undefined ? `:${w.column}` : ''}`;
    at += ': ';
  }
  return `${at}error[${e.code}]: ${terminalSafe(e.message)}${e.hint ? `\n  hint: ${terminalSafe(e.hint)}` : ''}`;
}
