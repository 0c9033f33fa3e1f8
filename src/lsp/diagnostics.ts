import { DiagnosticSeverity, type Diagnostic as LspDiagnostic } from 'vscode-languageserver';
import type { Diagnostic } from '../compiler/diagnostics.js';
import { toLspRange } from './positions.js';

const severities: Record<Diagnostic['severity'], DiagnosticSeverity> = {
  error: DiagnosticSeverity.Error,
  warning: DiagnosticSeverity.Warning,
  info: DiagnosticSeverity.Information,
};

/** The compiler's diagnostics, as `ftc check` reports them, in LSP's shape (same codes and ranges). */
export function toLspDiagnostics(ds: readonly Diagnostic[], file: string): LspDiagnostic[] {
  return ds
    .filter((d) => d.file === file)
    .map((d) => ({ range: toLspRange(d), severity: severities[d.severity], code: d.code, source: 'ftc', message: d.message }));
}

/**
 * Runs a document's diagnostics `delayMs` after its last change, so a burst of keystrokes compiles
 * once. A delay of 0 still defers to the next turn of the event loop, after the change is applied.
 */
export class Debouncer {
  private readonly timers = new Map<string, NodeJS.Timeout>();

  constructor(
    private readonly delayMs: number,
    private readonly run: (uri: string) => void,
  ) {}

  schedule(uri: string): void {
    this.cancel(uri);
    this.timers.set(
      uri,
      setTimeout(() => {
        this.timers.delete(uri);
        this.run(uri);
      }, this.delayMs),
    );
  }

  cancel(uri: string): void {
    const t = this.timers.get(uri);
    if (t) clearTimeout(t);
    this.timers.delete(uri);
  }

  /** On shutdown: nothing pending may fire on a closed connection. */
  cancelAll(): void {
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
  }
}
