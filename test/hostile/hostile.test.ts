import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it, test } from 'node:test';
import { compileFile } from '../../src/compiler/index.js';
import { fileUri, LspClient } from '../lsp/client.js';
import { runCli, smallLlamaConfig, tempDir } from '../helpers.js';
import { HOSTILE } from './corpus.js';

/** The corpus written out beside the files its pipelines name (a data file, a Llama model directory). */
function workspace(): string {
  const dir = tempDir('ftc-hostile-');
  writeFileSync(join(dir, 'd.json'), JSON.stringify([{ q: 'x', a: 'y' }]));
  mkdirSync(join(dir, 'm'));
  writeFileSync(join(dir, 'm', 'config.json'), smallLlamaConfig(2048));
  for (const c of HOSTILE) writeFileSync(join(dir, c.file), c.text);
  return dir;
}

const dir = workspace();
const shown = (d: { line: number; column: number; code: string; message: string }) => `${d.line}:${d.column} ${d.code} ${d.message.split(dir).join('<dir>')}`;

for (const c of HOSTILE) {
  test(`hostile: ${c.name} gives exactly its diagnostics`, () => {
    const got = compileFile(join(dir, c.file)).diagnostics.map(shown);
    if (c.count === undefined) assert.deepEqual(got, c.expected);
    else {
      assert.equal(got.length, c.count);
      assert.deepEqual(got.slice(0, c.expected.length), c.expected);
    }
  });
}

test('hostile corpus through ftc check: exit 1, never 70, no stack trace, no raw control character printed, capped text', () => {
  for (const format of ['text', 'json']) {
    // The json of 30,000 diagnostics is past spawnSync's output buffer: that one file is checked as text only.
    const files = HOSTILE.filter((c) => format === 'text' || c.count === undefined).map((c) => join(dir, c.file));
    const r = runCli(['check', '--format', format, ...files], { cwd: dir });
    assert.equal(r.status, 1, r.stderr);
    assert.doesNotMatch(r.stderr + r.stdout, /internal error|\n\s+at .*\.js:\d+/);
    // eslint-disable-next-line no-control-regex
    if (format === 'text') assert.doesNotMatch(r.stdout + r.stderr, /[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]/);
  }
  const many = runCli(['check', join(dir, 'many.ft')], { cwd: dir });
  assert.match(many.stderr, /\.\.\. and 29900 more \(ftc check --format json lists them all\)\n30000 errors\n$/);
  const esc = runCli(['check', join(dir, 'escape.ft')], { cwd: dir });
  assert.match(esc.stderr, /source "\\x1b\]0;pwned\\x07\.json" does not exist/);
});

describe('ftc lsp keeps answering after each hostile document', { timeout: 300_000 }, () => {
  it('publishes the same codes for each and still answers a request after it', async () => {
    const client = new LspClient(['--debounce', '0']);
    try {
      await client.initialize();
      for (const [i, c] of HOSTILE.entries()) {
        const uri = fileUri(join(dir, c.file));
        await client.open(uri, c.text, c.file.endsWith('.yaml') ? 'yaml' : 'ft', 1);
        const diags = await client.diagnostics(uri, 1, 60_000);
        const codes = [...new Set(diags.map((d) => d.code))].sort();
        assert.deepEqual(codes, [...new Set(c.expected.map((e) => e.split(' ')[1]))].sort(), c.name);
        const symbols = await client.request<unknown[]>('textDocument/documentSymbol', { textDocument: { uri } });
        assert.ok(Array.isArray(symbols), `${c.name}: documentSymbol answered`);
        await client.request('textDocument/hover', { textDocument: { uri }, position: { line: 1, character: 3 } });
        assert.equal(client.child.exitCode, null, `${c.name} (#${i}) took the server down: ${client.stderr}`);
      }
      assert.equal(await client.stop(), 0);
    } catch (e) {
      client.kill();
      throw e;
    }
  });
});
