import type { Progress, StageLogger } from './stage.js';
import { terminalSafe } from '../terminal-safe.js';

/**
 * The console logger a stage gets: info and warnings on stderr, prefixed with the stage name;
 * a progress bar (step/total, fields, ETA) only on an interactive terminal. In CI
 * (`CI=true`) or when stderr is not a TTY, progress is silent so logs stay readable.
 */
export interface ConsoleOptions {
  stream?: NodeJS.WriteStream | { write(s: string): boolean; isTTY?: boolean; columns?: number };
  /** Overrides the TTY/CI detection (tests). */
  interactive?: boolean;
  now?: () => number;
}

const REDRAW_MS = 100;

export function isInteractive(stream: { isTTY?: boolean }): boolean {
  const ci = process.env.CI;
  return stream.isTTY === true && !(ci !== undefined && ci !== '' && ci !== 'false' && ci !== '0');
}

export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)}ms`;
  const s = ms / 1000;
  if (s < 60) return `${s.toFixed(1)}s`;
  const m = Math.floor(s / 60);
  const h = Math.floor(m / 60);
  const ss = String(Math.floor(s % 60)).padStart(2, '0');
  return h > 0 ? `${h}h${String(m % 60).padStart(2, '0')}m${ss}s` : `${m}m${ss}s`;
}

export function renderBar(label: string, done: number, total: number | undefined, fields: Record<string, string | number>, elapsedMs: number, width: number): string {
  const extras = Object.entries(fields).map(([k, v]) => `${k}=${typeof v === 'number' ? formatField(v) : v}`).join(' ');
  let line: string;
  if (total && total > 0) {
    const frac = Math.min(1, done / total);
    const barWidth = 20;
    const filled = Math.round(frac * barWidth);
    const eta = done > 0 ? formatDuration((elapsedMs / done) * (total - done)) : '?';
    line = `${label} [${'#'.repeat(filled)}${'.'.repeat(barWidth - filled)}] ${done}/${total} ${extras} ETA ${eta}`;
  } else {
    line = `${label} ${done} ${extras} ${formatDuration(elapsedMs)}`;
  }
  line = line.replace(/ +/g, ' ').trimEnd();
  return line.length > width ? line.slice(0, Math.max(0, width - 1)) : line;
}

function formatField(v: number): string {
  return Number.isInteger(v) ? String(v) : v.toPrecision(4);
}

export class ConsoleLogger implements StageLogger {
  private readonly stream: NonNullable<ConsoleOptions['stream']>;
  private readonly interactive: boolean;
  private readonly now: () => number;

  constructor(
    private readonly stage: string,
    opts: ConsoleOptions = {},
  ) {
    this.stream = opts.stream ?? process.stderr;
    this.interactive = opts.interactive ?? isInteractive(this.stream);
    this.now = opts.now ?? Date.now;
  }

  info(message: string): void {
    // Messages can quote the user's data (a skipped row, a path): never raw control characters.
    this.stream.write(`${this.clearBar()}  ${this.stage}: ${terminalSafe(message)}\n`);
  }

  warn(message: string): void {
    this.stream.write(`${this.clearBar()}warning: ${this.stage}: ${terminalSafe(message)}\n`);
  }

  /** A line printed while a bar is drawn first erases the bar; the next update redraws it below. */
  private clearBar(): string {
    return this.interactive ? '\r\x1b[2K' : '';
  }

  progress(label: string, total?: number): Progress {
    if (!this.interactive) return { update: () => undefined, done: () => undefined };
    const start = this.now();
    let lastDraw = -Infinity;
    const width = Math.max(20, ((this.stream as { columns?: number }).columns ?? 80) - 1);
    const draw = (done: number, fields: Record<string, string | number>): void => {
      this.stream.write(`\r\x1b[2K${renderBar(`${this.stage} ${label}`, done, total, fields, this.now() - start, width)}`);
    };
    return {
      update: (done, fields = {}) => {
        const t = this.now();
        // Redraw at most every REDRAW_MS, but always draw the final step.
        if (t - lastDraw < REDRAW_MS && done !== total) return;
        lastDraw = t;
        draw(done, fields);
      },
      done: () => this.stream.write('\r\x1b[2K'),
    };
  }
}
