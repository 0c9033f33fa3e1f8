import type { Diagnostic } from '../compiler/diagnostics.js';
import { DIAGNOSTIC_CODES } from '../compiler/codes.js';

export type DiagnosticFormat = 'text' | 'json' | 'sarif';
export const DIAGNOSTIC_FORMATS: readonly DiagnosticFormat[] = ['text', 'json', 'sarif'];

/** Source text by file name, for quoting the offending line (`<--set>` holds the overrides, one a line). */
export type Sources = ReadonlyMap<string, string>;

export function printDiagnostics(diags: readonly Diagnostic[], sources: Sources, format: DiagnosticFormat): string {
  if (format === 'json') return JSON.stringify({ diagnostics: diags.map(jsonDiagnostic) }, null, 2) + '\n';
  if (format === 'sarif') return JSON.stringify(sarif(diags), null, 2) + '\n';
  return diags.map((d) => textDiagnostic(d, sources.get(d.file))).join('') + summary(diags);
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
function textDiagnostic(d: Diagnostic, source: string | undefined): string {
  let out = `${d.file}:${d.line}:${d.column}: ${d.severity}[${d.code}]: ${d.message}\n`;
  const line = source?.split(/\r?\n/)[d.line - 1];
  if (line === undefined) return out;
  const gutter = String(d.line);
  const start = Math.min(d.column - 1, line.length);
  // Ranges spanning lines are underlined to the end of their first line.
  const end = d.endLine === d.line ? Math.max(d.endColumn - 1, start + 1) : Math.max(line.length, start + 1);
  // Keep tabs in the padding so the caret lines up under tab-indented source.
  const pad = line.slice(0, start).replace(/[^\t]/g, ' ');
  out += `  ${gutter} | ${line}\n`;
  out += `  ${' '.repeat(gutter.length)} | ${pad}^${'~'.repeat(Math.max(0, end - start - 1))}\n`;
  return out;
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
