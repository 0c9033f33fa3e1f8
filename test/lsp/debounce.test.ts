import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { repoRoot, tempDir } from '../helpers.js';
import { fileUri, LspClient } from './client.js';

const seed = readFileSync(join(repoRoot(), 'pipelines/alpaca-lora.ft'), 'utf8');

describe('ftc lsp: debounced diagnostics', () => {
  it('a burst of changes is checked once, at its last version', async () => {
    const client = new LspClient(['--debounce', '1000']);
    try {
      await client.initialize();
      const uri = fileUri(join(tempDir('ftc-lsp-debounce-'), 'p.ft'));
      await client.open(uri, seed);
      await client.diagnostics(uri, 1); // open is checked at once
      for (let v = 2; v <= 6; v++) await client.change(uri, v, seed.replace('r              = 8', `r              = ${v}`));
      await client.diagnostics(uri, 6);
      assert.deepEqual(client.allPublished.map((p) => p.version), [1, 6]);
    } finally {
      client.kill();
    }
  });

  it('initializationOptions.debounceMs overrides the command line', async () => {
    const client = new LspClient(['--debounce', '60000']);
    try {
      await client.initialize({ debounceMs: 0 });
      const uri = fileUri(join(tempDir('ftc-lsp-debounce-'), 'p.ft'));
      await client.open(uri, seed);
      await client.change(uri, 2, seed.replace('bias           = none', 'bias           = some'));
      const ds = await client.diagnostics(uri, 2, 5000); // a minute's debounce would time out here
      assert.ok(ds.some((d) => d.code === 'E0105'));
    } finally {
      client.kill();
    }
  });
});
