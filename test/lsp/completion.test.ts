import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { schemas, STAGE_KINDS } from '../../src/schema/index.js';
import { repoRoot, tempDir } from '../helpers.js';
import { fileUri, LspClient, positionOf } from './client.js';

const seed = readFileSync(join(repoRoot(), 'pipelines/alpaca-lora.ft'), 'utf8');

interface Item {
  label: string;
  kind?: number;
  detail?: string;
  documentation?: { kind: string; value: string };
  insertTextFormat?: number;
  textEdit?: { newText: string; range: { start: { line: number; character: number }; end: { line: number; character: number } } };
}

describe('ftc lsp: completion', () => {
  const dir = tempDir('ftc-lsp-completion-');
  let client: LspClient;
  let version = 1;
  const uri = fileUri(join(dir, 'p.ft'));

  before(async () => {
    client = new LspClient();
    await client.initialize();
    await client.open(uri, seed);
  });
  after(async () => {
    assert.equal(await client.stop(), 0);
  });

  /** Replaces the document with `text` and completes at the position `|` marks (the bar is removed). */
  async function completeAt(marked: string): Promise<Item[]> {
    const text = marked.replace('|', '');
    await client.change(uri, ++version, text);
    const position = positionOf(marked, '|', { atStart: true });
    const r = await client.request<Item[] | { items: Item[] }>('textDocument/completion', { textDocument: { uri }, position });
    return Array.isArray(r) ? r : r.items;
  }
  const labels = (items: Item[]) => items.map((i) => i.label).sort();

  it('offers the stage kinds at top level, as snippets', async () => {
    const items = await completeAt(seed + '\n|');
    assert.deepEqual(labels(items), [...STAGE_KINDS].sort()); // the file has its pipeline header already
    const lora = items.find((i) => i.label === 'lora')!;
    assert.equal(lora.insertTextFormat, 2);
    assert.equal(lora.textEdit!.newText, 'lora ${1:name} {\n  $0\n}');
  });

  it('offers the keys of a nested block written in the canonical `key { }` form', async () => {
    const items = await completeAt(seed.replace('  truncation = true\n', '  truncation = true\n  train {\n    min_frequency = 2\n    |\n  }\n'));
    assert.deepEqual(labels(items), ['vocab_size']);
  });

  it('offers the unset keys of the stage being edited, with type, default and description', async () => {
    const items = await completeAt(seed.replace('  bias           = none\n', '  bias           = none\n  |\n'));
    const expectedKeys = Object.keys(schemas.lora!.properties).filter((k) => !['model', 'r', 'alpha', 'target_modules', 'dropout', 'bias'].includes(k));
    assert.deepEqual(labels(items), expectedKeys.sort());
    const rslora = items.find((i) => i.label === 'use_rslora')!;
    assert.equal(rslora.detail, 'true or false (default false)');
    assert.equal(rslora.documentation!.kind, 'markdown');
    assert.ok(rslora.documentation!.value.includes(schemas.lora!.properties.use_rslora!.description));
    assert.equal(rslora.textEdit!.newText, 'use_rslora = ');
  });

  it('replaces the partly typed key', async () => {
    const marked = seed.replace('  log_every  = 10\n', '  log_every  = 10\n  warm|\n');
    const items = await completeAt(marked);
    const warm = items.find((i) => i.label === 'warmup_steps')!;
    const p = positionOf(marked, 'warm|', { atStart: true });
    assert.deepEqual(warm.textEdit!.range, { start: p, end: { line: p.line, character: p.character + 4 } });
    assert.ok(!items.some((i) => i.label === 'log_every' || i.label === 'precision' || i.label === 'model'));
  });

  it('offers enum members for `precision = `', async () => {
    const items = await completeAt(seed.replace('precision  = fp16', 'precision  = |'));
    assert.deepEqual(labels(items), ['bf16', 'fp16', 'fp32']);
    assert.ok(items.every((i) => i.kind === 20)); // EnumMember
  });

  it('offers true/false for a boolean', async () => {
    const items = await completeAt(seed.replace('truncation = true', 'truncation = |'));
    assert.deepEqual(labels(items), ['false', 'true']);
  });

  it('offers only lora and model stages for a trainer`s `model = `', async () => {
    const extra = '\nmodel other {\n  path = "x"\n}\n\nlora second {\n  model = other\n}\n';
    const items = await completeAt(seed.replace('model      = adapter', 'model      = |') + extra);
    assert.deepEqual(labels(items), ['adapter', 'base', 'other', 'second']);
    assert.ok(items.every((i) => i.kind === 18)); // Reference
    const data = await completeAt(seed.replace('data       = tok', 'data       = |'));
    assert.deepEqual(labels(data), ['tok']);
  });

  it('offers list items for target_modules', async () => {
    const items = await completeAt(seed.replace('[q_proj, v_proj]', '[q_proj, |]'));
    assert.deepEqual(labels(items), ['down_proj', 'gate_proj', 'k_proj', 'o_proj', 'q_proj', 'up_proj', 'v_proj']);
  });

  it('offers list items for train_modules (full fine-tuning), modules and norms by their Hugging Face names', async () => {
    const items = await completeAt(seed.replace('  output     = "../lora-finetuned"', '  output     = "../lora-finetuned"\n  train_modules = [q_proj, |]'));
    assert.deepEqual(labels(items), ['down_proj', 'embed_tokens', 'gate_proj', 'input_layernorm', 'k_proj', 'lm_head', 'norm', 'o_proj', 'post_attention_layernorm', 'q_proj', 'up_proj', 'v_proj']);
  });

  it('works inside a half-typed, syntactically broken file', async () => {
    // an unclosed stage, a key without a value, then the cursor after `model =` in a new trainer
    const broken = seed.replace(/trainer sft \{[\s\S]*$/, 'trainer sft {\n  data = tok\n  epochs =\n  model = |\n\nlora late {\n  model = base\n');
    const refs = await completeAt(broken);
    assert.deepEqual(labels(refs), ['adapter', 'base', 'late']);
    // keys in the broken stage: data, epochs and model are set (model on the line being typed)
    const keys = await completeAt(broken.replace('  model = |\n', '  model = base\n  b|\n'));
    assert.ok(keys.some((i) => i.label === 'batch_size'));
    assert.ok(!keys.some((i) => ['data', 'epochs', 'model'].includes(i.label)));
    // top level after an unclosed stage that ended with '}' missing: still the kinds
    const kinds = await completeAt('pipeline p {\n  seed = 1\n}\n\ntrain|');
    assert.ok(kinds.some((i) => i.label === 'trainer'));
    // nothing inside a comment or a string, nothing while naming a stage
    assert.deepEqual(await completeAt(seed.replace('# Alpaca LoRA', '# Alpa|ca LoRA')), []);
    assert.deepEqual(await completeAt(seed.replace('"{output}"', '"{out|put}"')), []);
    assert.deepEqual(await completeAt(seed + '\ntrainer |'), []);
  });
});
