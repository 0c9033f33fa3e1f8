/**
 * A mistake the user can fix (bad path, malformed row, truncated file...).
 * The CLI prints `error[code]: message` and the hint, never a stack trace.
 * `throw new Error(...)` stays reserved for broken internal invariants.
 */
export class FtcError extends Error {
  constructor(
    /** Stable, documented code, e.g. `E_SAFETENSORS_TRUNCATED`. */
    readonly code: string,
    message: string,
    /** Where, when known: a file and optionally a 1-based line/column or a data row. */
    readonly where?: { file?: string; line?: number; column?: number; row?: number },
    /** What the user can do about it. */
    readonly hint?: string,
  ) {
    super(message);
    this.name = 'FtcError';
  }
}

export function isFtcError(e: unknown): e is FtcError {
  return e instanceof FtcError;
}
