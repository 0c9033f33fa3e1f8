/** Positions are 1-based; the end is exclusive (the column just after the last character). */
export interface SourceRange {
  line: number;
  column: number;
  endLine: number;
  endColumn: number;
}

export type Severity = 'error' | 'warning' | 'info';

export interface Diagnostic extends SourceRange {
  file: string;
  severity: Severity;
  /** Stable code, e.g. `E0101`; documented in grammar/README.md. */
  code: string;
  message: string;
}

export const hasErrors = (ds: readonly Diagnostic[]): boolean => ds.some((d) => d.severity === 'error');
