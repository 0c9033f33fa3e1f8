import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { schemas } from '../../src/schema/index.js';
import { repoRoot, tempDir } from '../helpers.js';
import { fileUri, LspClient, positionOf } from './client.js';

const seed = readFileSync(join(repoRoot(), 'pipelines/alpaca-lora.ft'), 'utf8');
type Pos = { line: number; character: number };
type Range = { start: Pos; end: Pos };
const span = (start: Pos, length: number): Range => ({ start, end: { line: start.line, character: start.character + length } });
const byStart = (a: Range, b: Range) => a.start.line - b.start.line || a.start.character - b.start.character;

describe('ftc lsp: hover, definition, references, rename', () => {
  const uri = fileUri(join(tempDir('ftc-lsp-nav-'), 'alpaca-lora.ft'));
  let client: LspClient;
  const at = (needle: string, opts: { nth?: number; delta?: number } = {}) => ({ textDocument: { uri }, position: positionOf(seed, needle, { atStart: true, delta: 1, ...opts }) });

  before(async () => {
    client = new LspClient();
    await client.initialize();
    await client.open(uri, seed);
  });
  after(async () => {
    assert.equal(await client.stop(), 0);
  });

  it('hover on a key shows its description, type, default and allowed values', async () => {
    const h = await client.request<{ contents: { kind: string; value: string }; range: Range }>('textDocument/hover', at('precision'));
    const s = schemas.trainer!.properties.precision!;
    assert.equal(h.contents.kind, 'markdown');
    assert.ok(h.contents.value.includes(s.description));
    assert.ok(h.contents.value.includes('Default: `fp32`'));
    assert.ok(h.contents.value.includes('`fp32`, `fp16`, `bf16`'));
    assert.deepEqual(h.range, span(positionOf(seed, 'precision', { atStart: true }), 'precision'.length));
  });

  it('hover on a reference summarizes the stage it names', async () => {
    const h = await client.request<{ contents: { value: string } }>('textDocument/hover', at('= adapter', { delta: 3 }));
    const v = h.contents.value;
    assert.ok(v.startsWith('**lora adapter**'), v);
    for (const line of ['r = 8', 'alpha = 32', 'target_modules = [q_proj, v_proj]', 'bias = none']) assert.ok(v.includes(line), line);
    assert.ok(v.includes(schemas.lora!.description));
  });

  it('hover on a stage kind shows what the kind does', async () => {
    const h = await client.request<{ contents: { value: string } }>('textDocument/hover', at('tokenizer tok'));
    assert.ok(h.contents.value.includes(schemas.tokenizer!.description));
  });

  it('definition jumps from a reference to the stage', async () => {
    const loc = await client.request<{ uri: string; range: Range }>('textDocument/definition', at('= base', { delta: 3 }));
    assert.equal(loc.uri, uri);
    assert.deepEqual(loc.range, span(positionOf(seed, 'model base', { atStart: true, delta: 6 }), 4));
  });

  it('references lists the declaration and every use', async () => {
    const refs = await client.request<{ uri: string; range: Range }[]>('textDocument/references', { ...at('tokenizer tok', { delta: 11 }), context: { includeDeclaration: true } });
    const expected = [span(positionOf(seed, 'tokenizer tok', { atStart: true, delta: 10 }), 3), span(positionOf(seed, '= tok', { atStart: true, delta: 2 }), 3)];
    assert.deepEqual(refs.map((r) => r.range).sort(byStart), expected);
    const usesOnly = await client.request<unknown[]>('textDocument/references', { ...at('tokenizer tok', { delta: 11 }), context: { includeDeclaration: false } });
    assert.equal(usesOnly.length, 1);
  });

  it('rename edits the stage and every reference; prepareRename refuses anything else', async () => {
    const prep = await client.request<{ range: Range; placeholder: string }>('textDocument/prepareRename', at('= prompts', { delta: 3 }));
    assert.equal(prep.placeholder, 'prompts');
    await assert.rejects(client.request('textDocument/prepareRename', at('eval_split')), /Only stage names/);
    await assert.rejects(client.request('textDocument/prepareRename', at('fp16')), /Only stage names/);

    const edit = await client.request<{ changes: Record<string, { range: Range; newText: string }[]> }>('textDocument/rename', { ...at('data raw', { delta: 6 }), newName: 'alpaca' });
    const edits = edit.changes[uri]!;
    assert.ok(edits.every((e) => e.newText === 'alpaca'));
    assert.deepEqual(edits.map((e) => e.range).sort(byStart), [span(positionOf(seed, 'data raw', { atStart: true, delta: 5 }), 3), span(positionOf(seed, '= raw', { atStart: true, delta: 2 }), 3)]);
    // applying the edit gives a file where the old name is gone and everything still resolves
    const lines = seed.split('\n');
    for (const e of [...edits].sort((x, y) => byStart(x.range, y.range)).reverse()) {
      const l = lines[e.range.start.line]!;
      lines[e.range.start.line] = l.slice(0, e.range.start.character) + e.newText + l.slice(e.range.end.character);
    }
    assert.ok(!/\braw\b/.test(lines.join('\n')));

    await assert.rejects(client.request('textDocument/rename', { ...at('data raw', { delta: 6 }), newName: '9lives' }), /not a valid stage name/);
    await assert.rejects(client.request('textDocument/rename', { ...at('data raw', { delta: 6 }), newName: 'tok' }), /already exists/);
  });
});
