// Starts `ftc lsp` over stdio for .ft files and *.ft.yaml pipelines. Everything the editor shows
// (diagnostics, completion, hover, rename, formatting) comes from the server, so it matches `ftc check`.
'use strict';
const vscode = require('vscode');
const { LanguageClient, TransportKind } = require('vscode-languageclient/node');

let client;

/** `ftc.path` may name an executable or a JavaScript entry point (run with VS Code's own Node). */
function serverOptions(config) {
  const ftc = config.get('path', 'ftc');
  const args = ['lsp', '--stdio', '--debounce', String(config.get('debounceMs', 150))];
  if (ftc.endsWith('.js')) {
    return { run: { module: ftc, args, transport: TransportKind.stdio }, debug: { module: ftc, args, transport: TransportKind.stdio } };
  }
  const exec = { command: ftc, args, options: { shell: process.platform === 'win32' } };
  return { run: exec, debug: exec };
}

async function activate(context) {
  const config = vscode.workspace.getConfiguration('ftc');
  client = new LanguageClient(
    'ftc',
    'ftc',
    serverOptions(config),
    {
      documentSelector: [
        { scheme: 'file', language: 'ft' },
        { scheme: 'untitled', language: 'ft' },
        { scheme: 'file', pattern: '**/*.ft.{yaml,yml}' },
      ],
    },
  );
  context.subscriptions.push(
    vscode.workspace.onDidChangeConfiguration((e) => {
      if (e.affectsConfiguration('ftc.path') || e.affectsConfiguration('ftc.debounceMs')) {
        vscode.window.showInformationMessage('ftc: reload the window to apply the new server settings.');
      }
    }),
  );
  await client.start();
}

function deactivate() {
  return client ? client.stop() : undefined;
}

module.exports = { activate, deactivate };
