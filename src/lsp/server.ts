import { FrameSanitizer } from './framing.js';
import {
  createConnection,
  ErrorCodes,
  ResponseError,
  StreamMessageReader,
  StreamMessageWriter,
  TextDocuments,
  TextDocumentSyncKind,
  type Connection,
  type InitializeResult,
} from 'vscode-languageserver/node';
import { TextDocument } from 'vscode-languageserver-textdocument';
import { Analyzer, type Analysis } from './analysis.js';
import { complete } from './completion.js';
import { Debouncer, toLspDiagnostics } from './diagnostics.js';
import { format } from './formatting.js';
import { hover } from './hover.js';
import { definition, prepareRename, references, rename } from './navigation.js';
import { documentSymbols, foldingRanges } from './symbols.js';

export interface ServerOptions {
  /** Milliseconds between the last change and the diagnostics (default 150); `initializationOptions.debounceMs` overrides. */
  debounceMs?: number;
  input?: NodeJS.ReadableStream;
  output?: NodeJS.WritableStream;
}

export const DEFAULT_DEBOUNCE_MS = 150;

/** `ftc lsp`: a language server over stdio, built on the compiler. Returns the connection, already listening. */
export function startServer(opts: ServerOptions = {}): Connection {
  const input = new FrameSanitizer((problem) => process.stderr.write(`ftc lsp: ${problem}\n`));
  (opts.input ?? process.stdin).pipe(input);
  const connection = createConnection(new StreamMessageReader(input), new StreamMessageWriter(opts.output ?? process.stdout));
  // stdout carries the protocol: anything printed by accident goes to the client's log instead
  console.log = (...args: unknown[]) => connection.console.log(args.map(String).join(' '));
  console.info = console.log;
  console.warn = (...args: unknown[]) => connection.console.warn(args.map(String).join(' '));
  console.error = (...args: unknown[]) => connection.console.error(args.map(String).join(' '));

  const documents = new TextDocuments(TextDocument);
  const analyzer = new Analyzer();
  let debounceMs = opts.debounceMs ?? DEFAULT_DEBOUNCE_MS;

  // After `shutdown` nothing more is published; a notification the closed connection refuses is dropped, not a crash.
  let shutDown = false;
  const notify = (p: Parameters<Connection['sendDiagnostics']>[0]): void => {
    if (!shutDown) connection.sendDiagnostics(p).catch(() => undefined);
  };
  const publish = (uri: string): void => {
    const doc = documents.get(uri);
    if (!doc || shutDown) return;
    guard('diagnostics', () => {
      const a = analyzer.get(doc);
      notify({ uri, version: doc.version, diagnostics: toLspDiagnostics(a.result.diagnostics, a.file) });
    }, undefined);
  };
  let debouncer = new Debouncer(debounceMs, publish);
  connection.onShutdown(() => {
    shutDown = true;
    debouncer.cancelAll();
  });
  // The client closing the pipe ends the session as `exit` does: 0 after shutdown, else 1 (LSP's rule).
  input.on('end', () => {
    debouncer.cancelAll();
    process.exit(shutDown ? 0 : 1);
  });

  /** One failing request must not take the server down: log it, answer with an error, keep serving. */
  function guard<T>(name: string, fn: () => T, onError: T): T {
    try {
      return fn();
    } catch (e) {
      connection.console.error(`ftc lsp: ${name} failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
      return onError;
    }
  }
  /** A request handler on an open document; a closed or unknown one answers `empty`. */
  function onDoc<P extends { textDocument: { uri: string } }, R>(name: string, empty: R, fn: (a: Analysis, params: P) => R | ResponseError<void>) {
    return (params: P): R | ResponseError<void> => {
      const failed = new ResponseError<void>(ErrorCodes.InternalError, `ftc lsp: ${name} failed (see the server log)`);
      return guard<R | ResponseError<void>>(name, () => {
        const doc = documents.get(params.textDocument.uri);
        return doc ? fn(analyzer.get(doc), params) : empty;
      }, failed);
    };
  }

  connection.onInitialize((params): InitializeResult => {
    const o = params.initializationOptions as { debounceMs?: unknown } | undefined;
    if (typeof o?.debounceMs === 'number' && o.debounceMs >= 0) {
      debounceMs = o.debounceMs;
      debouncer = new Debouncer(debounceMs, publish);
    }
    return {
      capabilities: {
        textDocumentSync: TextDocumentSyncKind.Incremental,
        completionProvider: { triggerCharacters: ['=', '[', ',', ' '] },
        hoverProvider: true,
        definitionProvider: true,
        referencesProvider: true,
        renameProvider: { prepareProvider: true },
        documentSymbolProvider: true,
        documentFormattingProvider: true,
        foldingRangeProvider: true,
      },
      serverInfo: { name: 'ftc', version: '0.1.0' },
    };
  });

  // Open: diagnostics at once. Change: after the debounce. Close: clear them.
  documents.onDidOpen((e) => publish(e.document.uri));
  documents.onDidChangeContent((e) => {
    // also fired on open, whose diagnostics went out already
    if (!analyzer.isCurrent(e.document)) debouncer.schedule(e.document.uri);
  });
  documents.onDidClose((e) => {
    debouncer.cancel(e.document.uri);
    analyzer.forget(e.document.uri);
    notify({ uri: e.document.uri, diagnostics: [] });
  });

  connection.onCompletion(onDoc('completion', [], (a, p) => complete(a, p.position)));
  connection.onHover(onDoc('hover', null, (a, p) => hover(a, p.position)));
  connection.onDefinition(onDoc('definition', null, (a, p) => definition(a, p.position)));
  connection.onReferences(onDoc('references', [], (a, p) => references(a, p.position, p.context?.includeDeclaration ?? true)));
  connection.onPrepareRename(onDoc('prepareRename', null, (a, p) => prepareRename(a, p.position)));
  connection.onRenameRequest(onDoc('rename', null, (a, p) => rename(a, p.position, p.newName)));
  connection.onDocumentSymbol(onDoc('documentSymbol', [], (a) => documentSymbols(a)));
  connection.onDocumentFormatting(onDoc('formatting', [], (a) => format(a)));
  connection.onFoldingRanges(onDoc('foldingRange', [], (a) => foldingRanges(a)));

  documents.listen(connection);
  connection.listen();
  return connection;
}
