import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { compile } from '../../src/compiler/index.js';
import { repoRoot, runCli, tempDir } from '../helpers.js';
import { fileUri, LspClient } from './client.js';

const seed = readFileSync(join(repoRoot(), 'pipelines/alpaca-lora.ft'), 'utf8');
const seedYaml = readFileSync(join(repoRoot(), 'pipelines/alpaca-lora.ft.yaml'), 'utf8');

/** The compiler's diagnostics in LSP coordinates, converted here independently of the server. */
function expected(text: string, file: string) {
  return compile(text, file).diagnostics.map((d) => ({
    code: d.code,
    severity: d.severity === 'error' ? 1 : d.severity === 'warning' ? 2 : 3,
    message: d.message,
    range: { start: { line: d.line - 1, character: d.column - 1 }, end: { line: d.endLine - 1, character: d.endColumn - 1 } },
  }));
}
const shape = (ds: readonly { code?: unknown; severity?: unknown; message: unknown; range: unknown }[]) =>
  ds.map(({ code, severity, message, range }) => ({ code, severity, message, range }));

describe('ftc lsp: lifecycle, diagnostics, formatting, outline', () => {
  // The pipeline lives in <tmp>/pipelines so that its ../data and ../models paths are missing on
  // purpose: the file-missing diagnostics (E0301) are part of what `ftc check` reports too.
  const dir = tempDir('ftc-lsp-');
  mkdirSync(join(dir, 'pipelines'));
  const file = join(dir, 'pipelines/alpaca-lora.ft');
  const uri = fileUri(file);
  let client: LspClient;

  before(async () => {
    client = new LspClient(['--debounce', '10']);
  });
  after(() => client.kill());

  it('initialize announces every feature', async () => {
    const { capabilities: c } = await client.initialize();
    assert.equal(c.textDocumentSync, 2);
    assert.deepEqual(c.renameProvider, { prepareProvider: true });
    for (const k of ['hoverProvider', 'definitionProvider', 'referencesProvider', 'documentSymbolProvider', 'documentFormattingProvider', 'foldingRangeProvider']) {
      assert.equal(c[k], true, k);
    }
    assert.ok(c.completionProvider);
  });

  it('didOpen publishes the diagnostics of ftc check, same codes and ranges', async () => {
    const broken = seed.replace('model      = adapter', 'model      = adaptr').replace('precision  = fp16', 'precision  = fp8').replace('max_length = 512', 'max_length 512');
    await client.open(uri, broken);
    const got = await client.diagnostics(uri, 1);
    assert.deepEqual(shape(got), expected(broken, file));
    const codes = new Set(got.map((d) => d.code));
    for (const c of ['E0002', 'E0201', 'E0105', 'E0301']) assert.ok(codes.has(c), `${c} in ${[...codes]}`);
    // the unknown reference, located by hand in the text: 0-based line, exclusive end
    const lines = broken.split('\n');
    const line = lines.findIndex((l) => l.includes('adaptr'));
    const character = lines[line]!.indexOf('adaptr');
    const e0201 = got.find((d) => d.code === 'E0201')!;
    assert.deepEqual(e0201.range, { start: { line, character }, end: { line, character: character + 6 } });
    assert.equal(e0201.source, 'ftc');
  });

  it('didChange publishes new diagnostics for the new version', async () => {
    await client.change(uri, 2, seed);
    const got = await client.diagnostics(uri, 2);
    assert.deepEqual(shape(got), expected(seed, file));
    assert.deepEqual([...new Set(got.map((d) => d.code))], ['E0301']); // only the files we left out on purpose
  });

  it('a YAML pipeline gets the same diagnostics as ftc check', async () => {
    const yamlFile = join(dir, 'pipelines/alpaca-lora.ft.yaml');
    const text = seedYaml.replace('precision: fp16', 'precision: fp8').replace('model: adapter', 'model: adaptr');
    await client.open(fileUri(yamlFile), text, 'yaml');
    const got = await client.diagnostics(fileUri(yamlFile), 1);
    assert.deepEqual(shape(got), expected(text, yamlFile));
    assert.ok(got.some((d) => d.code === 'E0105') && got.some((d) => d.code === 'E0201'));
    // the outline and hover work on the YAML form's AST too
    const symbols = await client.request<{ name: string; detail: string }[]>('textDocument/documentSymbol', { textDocument: { uri: fileUri(yamlFile) } });
    assert.deepEqual(symbols.map((s) => `${s.detail} ${s.name}`), ['pipeline alpaca_lora', 'data raw', 'preprocess prompts', 'tokenizer tok', 'model base', 'lora adapter', 'trainer sft']);
    const lines = text.split('\n');
    const line = lines.indexOf('    eval_split: 0.05');
    const h = await client.request<{ contents: { value: string } }>('textDocument/hover', { textDocument: { uri: fileUri(yamlFile) }, position: { line, character: 6 } });
    assert.ok(h.contents.value.includes('**preprocess.eval_split**'), h.contents.value);
  });

  it('formatting returns exactly ftc fmt output as one edit, and nothing for a syntax error', async () => {
    const messy = seed.replace('  seed = 42', 'seed=42').replace('r              = 8', '    r = 8').replace(/\n\n/g, '\n\n\n');
    const messyFile = join(dir, 'pipelines/messy.ft');
    writeFileSync(messyFile, messy);
    const fmt = runCli(['fmt', messyFile]);
    assert.equal(fmt.status, 0, fmt.stderr);
    const u = fileUri(messyFile);
    await client.open(u, messy);
    const edits = await client.request<{ range: unknown; newText: string }[]>('textDocument/formatting', { textDocument: { uri: u }, options: { tabSize: 2, insertSpaces: true } });
    assert.equal(edits.length, 1);
    assert.equal(edits[0]!.newText, fmt.stdout);
    const lines = messy.split('\n');
    assert.deepEqual(edits[0]!.range, { start: { line: 0, character: 0 }, end: { line: lines.length - 1, character: lines[lines.length - 1]!.length } });

    await client.change(u, 2, messy.replace('seed=42', 'seed='));
    const none = await client.request<unknown[]>('textDocument/formatting', { textDocument: { uri: u }, options: { tabSize: 2, insertSpaces: true } });
    assert.deepEqual(none, []);
  });

  it('documentSymbol outlines the stages with their keys', async () => {
    const symbols = await client.request<{ name: string; detail: string; children: { name: string }[]; selectionRange: { start: { line: number } } }[]>(
      'textDocument/documentSymbol',
      { textDocument: { uri } },
    );
    assert.deepEqual(symbols.map((s) => `${s.detail} ${s.name}`), ['pipeline alpaca_lora', 'data raw', 'preprocess prompts', 'tokenizer tok', 'model base', 'lora adapter', 'trainer sft']);
    const sft = symbols.find((s) => s.name === 'sft')!;
    assert.deepEqual(sft.children.map((c) => c.name), ['model', 'data', 'batch_size', 'epochs', 'lr', 'precision', 'log_every', 'output']);
    assert.equal(sft.selectionRange.start.line, seed.split('\n').indexOf('trainer sft {'));
  });

  it('foldingRange folds each stage, and the header comment', async () => {
    const folds = await client.request<{ startLine: number; endLine: number; kind?: string }[]>('textDocument/foldingRange', { textDocument: { uri } });
    const lines = seed.split('\n');
    const open = (h: string) => lines.indexOf(h);
    const closeAfter = (i: number) => lines.indexOf('}', i);
    for (const h of ['pipeline alpaca_lora {', 'lora adapter {', 'trainer sft {']) {
      assert.ok(folds.some((f) => f.startLine === open(h) && f.endLine === closeAfter(open(h))), h);
    }
    assert.ok(folds.some((f) => f.kind === 'comment' && f.startLine === 0 && f.endLine === 1));
  });

  it('shutdown then exit ends the process with code 0', async () => {
    assert.equal(await client.stop(), 0);
  });
});
