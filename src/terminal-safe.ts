/**
 * Text from a user's files (source lines, names, values in messages) is printed to a terminal, where
 * an ESC sequence would clear the screen or set the title and a bidi override would reorder what is
 * shown. Every such character is printed as an escape instead: C0 controls but tab and newline,
 * DEL, C1 controls, and the Unicode bidi embedding/override/isolate controls.
 */
// eslint-disable-next-line no-control-regex
const UNSAFE = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g;

const escapeOne = (c: string): string => {
  const n = c.charCodeAt(0);
  return n <= 0xff ? `\\x${n.toString(16).padStart(2, '0')}` : `\\u${n.toString(16).padStart(4, '0')}`;
};

/** `s` with every unsafe character escaped (`\x1b`, `\u202e`); newlines and tabs kept. */
export function terminalSafe(s: string): string {
  return s.replace(UNSAFE, escapeOne);
}

/** The same for a single line: a newline or carriage return in it is escaped too. */
export function terminalSafeLine(s: string): string {
  return terminalSafe(s).replace(/[\n\r]/g, (c) => (c === '\n' ? '\\n' : '\\r'));
}
