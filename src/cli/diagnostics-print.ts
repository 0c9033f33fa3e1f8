import type { Diagnostic } from '../compiler/diagnostics.js';
import { DIAGNOSTIC_CODES } from '../compiler/codes.js';
import { terminalSafe, terminalSafeLine } from '../terminal-safe.js';

export type DiagnosticFormat = 'text' | 'json' | 'sarif';
export const DIAGNOSTIC_FORMATS: readonly DiagnosticFormat[] = ['text', 'json', 'sarif'];

/** Source text by file name, for quoting the offending line (`<--set>` holds the overrides, one a line). */
export type Sources = ReadonlyMap<string, string>;

/** As compilers do (gcc -fmax-errors, tsc's "and N more"): text shows the first ones; json and sarif carry all. */
export const MAX_TEXT_DIAGNOSTICS = 100;

export function printDiagnostics(diags: readonly Diagnostic[], sources: Sources, format: DiagnosticFormat): string {
  if (format === 'json') return JSON.stringify({ diagnostics: diags.map(jsonDiagnostic) }, null, 2) + '\n';
  if (format === 'sarif') return JSON.stringify(sarif(diags), null, 2) + '\n';
  // Each source is split into lines once, not once per diagnostic: linear in the input.
  const lines = new Map<string, string[]>();
  const linesOf = (file: string): string[] | undefined => {
    const text = sources.get(file);
    if (text === undefined) return undefined;
    let got = lines.get(file);
    if (!got) lines.set(file, (got = text.split(/\r?\n/)));
    return got;
  };
  const shown = diags.slice(0, MAX_TEXT_DIAGNOSTICS);
  const more = diags.length - shown.length;
  return shown.map((d) => textDiagnostic(d, linesOf(d.file))).join('') +
    (more > 0 ? `... and ${more} more (ftc check --format json lists them all)\n` : '') + summary(diags);
}

const jsonDiagnostic = (d: Diagnostic) => ({
  file: d.file,
  line: d.line,
  column: d.column,
  endLine: d.endLine,
  endColumn: d.endColumn,
  severity: d.severity,
  code: d.code,
  message: d.message,
});

/**
 *     pipelines/a.ft:31:7: error[E0104]: lora 'adapter': r must be an integer ≥ 1 (got 0).
 *       31 |   r = 0
 *          |       ^
 */
function textDiagnostic(d: Diagnostic, lines: readonly string[] | undefined): string {
  let out = `${terminalSafeLine(d.file)}:${d.line}:${d.column}: ${d.severity}[${d.code}]: ${terminalSafe(d.message)}\n`;
  const raw = lines?.[d.line - 1];
  if (raw === undefined) return out;
  // A quoted line is cut to a window around the range, so one huge line is not printed per diagnostic.
  const { line, start, end } = window(raw, d);
  const gutter = String(d.line);
  // Escaped control characters widen the text: the caret is placed by the escaped prefix.
  const before = terminalSafeLine(line.slice(0, start));
  const marked = terminalSafeLine(line.slice(start, end));
  // Keep tabs in the padding so the caret lines up under tab-indented source.
  const pad = before.replace(/[^\t]/g, ' ');
  out += `  ${gutter} | ${terminalSafeLine(line)}\n`;
  out += `  ${' '.repeat(gutter.length)} | ${pad}^${'~'.repeat(Math.max(0, marked.length - 1))}\n`;
  return out;
}

const WINDOW = 160;

/** The line (or a window of it) and the range to underline within it; ranges spanning lines run to the end of their first line. */
function window(raw: string, d: Diagnostic): { line: string; start: number; end: number } {
  let start = Math.min(d.column - 1, raw.length);
  let end = d.endLine === d.line ? Math.max(d.endColumn - 1, start + 1) : Math.max(raw.length, start + 1);
  if (raw.length <= WINDOW) return { line: raw, start, end };
  const from = Math.max(0, start - WINDOW / 2);
  const to = Math.min(raw.length, Math.max(from + WINDOW, Math.min(end, start + WINDOW)));
  const line = (from > 0 ? '…' : '') + raw.slice(from, to) + (to < raw.length ? '…' : '');
  const shift = (from > 0 ? 1 : 0) - from;
  start += shift;
  end = Math.min(end, to) + shift;
  return { line, start, end: Math.max(end, start + 1) };
}

function summary(diags: readonly Diagnostic[]): string {
  const errors = diags.filter((d) => d.severity === 'error').length;
  const warnings = diags.filter((d) => d.severity === 'warning').length;
  if (errors + warnings === 0) return '';
  const n = (k: number, w: string) => `${k} ${w}${k === 1 ? '' : 's'}`;
  return `${[errors ? n(errors, 'error') : '', warnings ? n(warnings, 'warning') : ''].filter(Boolean).join(', ')}\n`;
}

/** SARIF 2.1.0, the format code-scanning services (GitHub, Azure DevOps) ingest. */
function sarif(diags: readonly Diagnostic[]) {
  const ruleIds = [...new Set(diags.map((d) => d.code))].sort();
  return {
    $schema: 'https://json.schemastore.org/sarif-2.1.0.json',
    version: '2.1.0',
    runs: [
      {
        tool: {
          driver: {
            name: 'ftc',
            version: '0.1.0',
            rules: ruleIds.map((id) => ({ id, shortDescription: { text: DIAGNOSTIC_CODES[id] ?? id } })),
          },
        },
        results: diags.map((d) => ({
          ruleId: d.code,
          ruleIndex: ruleIds.indexOf(d.code),
          level: d.severity === 'info' ? 'note' : d.severity,
          message: { text: d.message },
          locations: [
            {
              physicalLocation: {
                artifactLocation: { uri: d.file.split('\\').join('/') },
                region: { startLine: d.line, startColumn: d.column, endLine: d.endLine, endColumn: d.endColumn },
              },
            },
          ],
        })),
      },
    ],
  };
}
