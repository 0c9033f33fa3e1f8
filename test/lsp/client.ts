import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import {
  createProtocolConnection,
  StreamMessageReader,
  StreamMessageWriter,
  type Diagnostic,
  type ProtocolConnection,
  type PublishDiagnosticsParams,
} from 'vscode-languageserver-protocol/node';
import { repoRoot } from '../helpers.js';

/**
 * A real LSP client for tests: `ftc lsp` runs as a child process and every call goes through
 * JSON-RPC over its stdin/stdout, as an editor would speak to it.
 */
export class LspClient {
  readonly child: ChildProcess;
  readonly conn: ProtocolConnection;
  readonly logs: string[] = [];
  private readonly published: PublishDiagnosticsParams[] = [];
  private waiters: Array<() => void> = [];
  stderr = '';

  constructor(args: string[] = ['--debounce', '20']) {
    this.child = spawn(process.execPath, [join(repoRoot(), 'dist/src/cli/main.js'), 'lsp', ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
    this.child.stderr!.on('data', (d: Buffer) => (this.stderr += d.toString()));
    this.conn = createProtocolConnection(new StreamMessageReader(this.child.stdout!), new StreamMessageWriter(this.child.stdin!));
    this.conn.onNotification('textDocument/publishDiagnostics', (p: PublishDiagnosticsParams) => {
      this.published.push(p);
      for (const w of this.waiters.splice(0)) w();
    });
    this.conn.onNotification('window/logMessage', (p: { message: string }) => {
      this.logs.push(p.message);
    });
    this.conn.listen();
  }

  async initialize(initializationOptions?: unknown): Promise<{ capabilities: Record<string, unknown> }> {
    const r = await this.conn.sendRequest('initialize', { processId: null, rootUri: null, capabilities: {}, initializationOptions });
    await this.conn.sendNotification('initialized', {});
    return r as { capabilities: Record<string, unknown> };
  }

  open(uri: string, text: string, languageId = 'ft', version = 1): Promise<void> {
    return this.conn.sendNotification('textDocument/didOpen', { textDocument: { uri, languageId, version, text } });
  }

  change(uri: string, version: number, text: string): Promise<void> {
    return this.conn.sendNotification('textDocument/didChange', { textDocument: { uri, version }, contentChanges: [{ text }] });
  }

  /** A request that fails the test after `timeoutMs` instead of hanging the suite when the server goes quiet. */
  request<R>(method: string, params: unknown, timeoutMs = REQUEST_TIMEOUT_MS): Promise<R> {
    return this.bounded(this.conn.sendRequest(method, params) as Promise<R>, `${method} got no answer`, timeoutMs);
  }

  private bounded<T>(promise: Promise<T>, what: string, timeoutMs = REQUEST_TIMEOUT_MS): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what} within ${timeoutMs} ms; server stderr: ${this.stderr}`)), timeoutMs);
    });
    return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
  }

  /** The next diagnostics for `uri` (at `version`, when given) published after `since` earlier ones. */
  async diagnostics(uri: string, version?: number, timeoutMs = 10_000): Promise<Diagnostic[]> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.published.find((p) => p.uri === uri && (version === undefined || p.version === version));
      if (found) return found.diagnostics;
      if (Date.now() > deadline) throw new Error(`no diagnostics for ${uri} v${version}; stderr: ${this.stderr}`);
      await new Promise<void>((res) => {
        this.waiters.push(res);
        setTimeout(res, 100);
      });
    }
  }

  /** Every publishDiagnostics so far, in order. */
  get allPublished(): readonly PublishDiagnosticsParams[] {
    return this.published;
  }

  /** shutdown + exit, as a client ends a session; resolves with the exit code. */
  async stop(): Promise<number | null> {
    const exited = new Promise<number | null>((res) => this.child.once('exit', (code) => res(code)));
    await this.request('shutdown', null);
    await this.conn.sendNotification('exit');
    const code = await this.bounded(exited, 'the server did not exit after shutdown/exit');
    this.conn.dispose();
    return code;
  }

  kill(): void {
    this.conn.dispose();
    this.child.kill();
  }
}

/** Generous: the suite shares two cores with other test files. */
const REQUEST_TIMEOUT_MS = 60_000;

export const fileUri = (path: string): string => pathToFileURL(path).href;

/** The position just after the `nth` occurrence of `needle` in `text` (or at its start with `atStart`). */
export function positionOf(text: string, needle: string, opts: { nth?: number; atStart?: boolean; delta?: number } = {}): { line: number; character: number } {
  let idx = -1;
  for (let n = 0; n <= (opts.nth ?? 0); n++) {
    idx = text.indexOf(needle, idx + 1);
    if (idx < 0) throw new Error(`'${needle}' not found`);
  }
  const offset = idx + (opts.atStart ? 0 : needle.length) + (opts.delta ?? 0);
  const before = text.slice(0, offset).split('\n');
  return { line: before.length - 1, character: before[before.length - 1]!.length };
}
