import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { dataStage } from '../../../src/runtime/stages/data.js';
import { preprocessStage } from '../../../src/runtime/stages/preprocess.js';
import { tokenizerStage } from '../../../src/runtime/stages/tokenizer.js';
import { readTokenDataset } from '../../../src/runtime/tokenize/dataset.js';
import { repoRoot } from '../../helpers.js';
import { readJsonlFile, runStage } from './stage-context.js';

test('the shipped data/alpaca_sample.json: Alpaca records, a third with input, small', () => {
  const text = readFileSync(join(repoRoot(), 'data/alpaca_sample.json'), 'utf8');
  const records = JSON.parse(text) as Array<Record<string, unknown>>;
  assert.ok(records.length >= 240 && records.length <= 400, `${records.length} records`);
  assert.ok(text.length < 150_000);
  for (const r of records) {
    assert.deepEqual(Object.keys(r).sort(), ['input', 'instruction', 'output']);
    assert.ok(typeof r.instruction === 'string' && r.instruction.length > 0);
    assert.ok(typeof r.input === 'string' && typeof r.output === 'string' && r.output.length > 0);
  }
  const withInput = records.filter((r) => r.input !== '').length / records.length;
  assert.ok(withInput > 0.25 && withInput < 0.45, `${withInput} with input`);
});

test('data → preprocess → tokenizer on the shipped sample, with the seed pipeline settings', async () => {
  const dir = join(repoRoot(), 'pipelines');
  const raw = await runStage(dataStage, 'raw', { source: '../data/alpaca_sample.json', on_error: 'fail', text_mode: 'line' }, { pipelineDir: dir });
  const n = (readJsonlFile(join(raw.artifact.dir, 'records.jsonl')) as unknown[]).length;
  assert.deepEqual(raw.summary, { rows: n, skipped: 0 });
  const prompts = await runStage(
    preprocessStage,
    'prompts',
    { input: 'raw', prompt: '{instruction}\n{input}', response: '{output}', eval_split: 0.05, shuffle: true, dedupe: false, template: 'custom', messages_field: 'messages' },
    { inputs: [raw.artifact], pipelineDir: dir },
  );
  const evalRows = Math.ceil(n * 0.05);
  assert.deepEqual(prompts.summary, { rows: n - evalRows, eval_rows: evalRows, dropped: 0 });
  const tok = await runStage(
    tokenizerStage,
    'tok',
    { input: 'prompts', train: { vocab_size: 512, min_frequency: 2 }, max_length: 128, truncation: true, add_bos: true, add_eos: true, train_on_inputs: false, packing: false },
    { inputs: [prompts.artifact], pipelineDir: dir },
  );
  assert.equal(tok.summary.rows, n - evalRows);
  assert.equal(tok.summary.eval_rows, evalRows);
  assert.equal(tok.summary.dropped, 0);
  const ds = readTokenDataset(tok.artifact.dir);
  assert.equal(ds.split('train').tokens, tok.summary.tokens);
  for (let i = 0; i < ds.split('train').count; i++) {
    const e = ds.split('train').example(i);
    assert.ok(e.labels.some((l) => l !== -100), `example ${i} has response tokens`);
  }
});
