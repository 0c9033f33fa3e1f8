import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { repoRoot, tempDir } from '../helpers.js';
import { fileUri, LspClient } from './client.js';

const seed = readFileSync(join(repoRoot(), 'pipelines/alpaca-lora.ft'), 'utf8');

describe('ftc lsp: robustness', { timeout: 120_000 }, () => {
  const uri = fileUri(join(tempDir('ftc-lsp-robust-'), 'alpaca-lora.ft'));
  let client: LspClient;
  const symbols = () => client.request<{ name: string }[]>('textDocument/documentSymbol', { textDocument: { uri } });

  before(async () => {
    client = new LspClient();
    await client.initialize();
    await client.open(uri, seed);
  });
  after(async () => {
    assert.equal(await client.stop(), 0);
  });

  it('a request that crashes its handler is answered with an error, logged, and the next one is served', async () => {
    // a position of null makes the hover handler throw inside the server
    await assert.rejects(client.request('textDocument/hover', { textDocument: { uri }, position: null }), /hover failed/);
    assert.equal((await symbols()).length, 7);
    assert.ok(client.logs.some((l) => l.includes('hover failed')), client.logs.join('\n'));
  });

  it('malformed frames (no Content-Length, a bad length, invalid JSON) do not bring the server down', async () => {
    const stdin = client.child.stdin!;
    const bad = '{"jsonrpc": "2.0", "id": 99, "method": ';
    // one write, so the three arrive in one chunk: a reader that gives up on the rest of a chunk
    // after a bad header would leave the next request unread and the client waiting forever
    stdin.write(`garbage without a header\r\n\r\nContent-Length: abc\r\n\r\nContent-Length: ${Buffer.byteLength(bad)}\r\n\r\n${bad}`);
    const names = (await symbols()).map((s) => s.name);
    assert.deepEqual(names, ['alpaca_lora', 'raw', 'prompts', 'tok', 'base', 'adapter', 'sft']);
    assert.equal(client.child.exitCode, null);
  });

  it('requests on a document that was never opened get empty answers', async () => {
    const other = { textDocument: { uri: uri.replace('alpaca-lora', 'missing') }, position: { line: 0, character: 0 } };
    assert.equal(await client.request('textDocument/hover', other), null);
    assert.deepEqual(await client.request('textDocument/completion', other), []);
  });
});
