import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { tempDir } from '../helpers.js';
import { fileUri, LspClient } from './client.js';

test('shutdown + exit with a debounced publish pending: exit code 0, nothing on stderr, nothing published after shutdown', async () => {
  const client = new LspClient(['--debounce', '400']);
  await client.initialize();
  const uri = fileUri(join(tempDir('ftc-lsp-exit-'), 'p.ft'));
  await client.open(uri, 'pipeline p { seed = 1 }\n');
  await client.diagnostics(uri, 1);
  await client.change(uri, 2, 'pipeline p { seed = 2 }\nlroa x { }\n');
  const published = client.allPublished.length;
  assert.equal(await client.stop(), 0);
  // Give a stray timer the chance to fire if the process had stayed.
  await new Promise((r) => setTimeout(r, 600));
  assert.equal(client.stderr, '');
  assert.equal(client.allPublished.length, published, 'the pending publish was cancelled');
});

test('exit without shutdown ends with code 1, as the LSP specification says', async () => {
  const client = new LspClient(['--debounce', '400']);
  await client.initialize();
  const exited = new Promise<number | null>((res) => client.child.once('exit', (code) => res(code)));
  await client.conn.sendNotification('exit');
  assert.equal(await exited, 1);
  client.conn.dispose();
});

test('shutdown, then the client closes the pipe with a publish pending: the server ends cleanly (code 0)', async () => {
  const client = new LspClient(['--debounce', '300']);
  await client.initialize();
  const uri = fileUri(join(tempDir('ftc-lsp-exit-'), 'p.ft'));
  await client.open(uri, 'pipeline p { seed = 1 }\n');
  await client.diagnostics(uri, 1);
  await client.change(uri, 2, 'pipeline p { seed = 2 }\n');
  await client.request('shutdown', null);
  const exited = new Promise<number | null>((res) => client.child.once('exit', (code) => res(code)));
  client.child.stdin!.end();
  assert.equal(await exited, 0);
  assert.doesNotMatch(client.stderr, /Error|at /);
  client.conn.dispose();
});
