import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { compileFile } from '../../../src/compiler/index.js';
import { planPipeline } from '../../../src/compiler/plan.js';
import { ArtifactCache } from '../../../src/runtime/cache.js';
import { execute } from '../../../src/runtime/executor.js';
import { parseMetrics } from '../../../src/runtime/train/metrics.js';
import { tempDir } from '../../helpers.js';
import { colourRows, initTinyModel, type Keys, tinyPipeline, writeRows } from '../../tiny-project.js';
import { createRequire } from 'node:module';
import { readTokenDataset } from '../../../src/runtime/tokenize/dataset.js';
import { generate } from '../../../src/runtime/model/generate.js';
import { loadCausalLM, type LlamaCausalLM } from '../../../src/runtime/model/causal-lm.js';
import { readHeldOutPrompts } from '../../../src/runtime/tokenize/held-out.js';
import type { HeldOutAnswer } from '../../../src/runtime/train/held-out-answers.js';
import { escapeXml } from '../../../src/runtime/train/plot.js';
import { visibleText } from '../../../src/runtime/train/report.js';

const { Tokenizer } = createRequire(import.meta.url)('tokenizers') as typeof import('tokenizers');
const quietLog = { info: () => {}, warn: () => {}, progress: () => ({ update: () => {}, done: () => {} }) };

/**
 * A short real run of the trainer stage, in this process so that the executor's own clock around
 * the stage is the wall time the report's timings are held to.
 */
export function writeTinyProject(dir: string, trainer: Keys = {}): string {
  writeRows(dir, colourRows(40));
  initTinyModel(dir);
  // The answer's space starts the response: a prompt ending in one would mask the answer's first word (W0151).
  writeFileSync(join(dir, 'p.ft'), tinyPipeline({
    preprocess: { prompt: '"Q: {instruction}\\nA:"', response: '" {output}"', eval_split: 0.25 },
    tokenizer: { max_length: 64 },
    lora: { use_rslora: 'true' },
    trainer: { max_steps: 6, lr: '1e-2', log_every: 2, eval_every: 3, save_every: 3, precision: 'fp16', ...trainer },
  }));
  return join(dir, 'p.ft');
}

test('report of a real run: what ran, pipeline key names, each evaluation, and timings that sum to the stage wall time', async () => {
  const dir = tempDir();
  const file = writeTinyProject(dir, { eval_on_start: 'true', eval_max_examples: 7, eval_generate: 2, eval_max_new_tokens: 8 });
  const { ir, diagnostics } = compileFile(file);
  assert.ok(ir, JSON.stringify(diagnostics));
  // Loaded first: the executor imports a stage's file (tfjs, seconds) inside its clock, before the stage's own starts.
  await import('../../../src/runtime/stages/trainer.js');
  const lines: string[] = [];
  const log = { info: (m: string) => lines.push(m), warn: (m: string) => lines.push(`warn: ${m}`), progress: () => ({ update: () => {}, done: () => {} }) };
  const result = await execute(await planPipeline(ir), ir, {
    cache: new ArtifactCache(join(dir, 'cache')), report: () => {}, logger: () => log, backend: 'cpu', workers: 2,
  });
  const sft = result.stages.find((s) => s.name === 'sft')!;
  const html = readFileSync(join(sft.dir, 'report.html'), 'utf8');

  // What ran: fp32 (tfjs has no fp16), two data-parallel workers; the backend's detail is per worker.
  assert.match(html, /Backend: <b>cpu \(each worker: [^<]*\)<\/b> · workers: <b>2 data-parallel threads<\/b> · precision: <b>fp32 \(the pipeline asks for fp16, which TensorFlow.js does not have\)<\/b>/);
  assert.match(html, /<th>precision<\/th><td>fp32 \(the pipeline asks for fp16/);
  assert.doesNotMatch(html, /<th>precision<\/th><td>fp16/);
  // The lora stage's own key names, not the runtime's.
  assert.match(html, /<th>target_modules<\/th><td>q_proj, v_proj<\/td>/);
  assert.match(html, /<th>use_rslora<\/th><td>true<\/td>/);
  assert.doesNotMatch(html, /targetModules|useRslora/);
  // Chance level ln 300 = 5.7038 as a row, a sentence and a line on the chart.
  assert.match(html, /<th>chance level<\/th><td>5.7038 \(ln 300/);
  assert.match(html, /class="chance"/);

  // Each evaluation, in metrics.jsonl and the report: steps 0 (eval_on_start), 3, 6, on 7 of the 10 eval examples.
  const metrics = parseMetrics(readFileSync(join(sft.dir, 'metrics.jsonl'), 'utf8'));
  const evals = metrics.filter((m) => m.eval_loss !== undefined);
  assert.deepEqual(evals.map((m) => [m.step, m.eval_examples]), [[0, 7], [3, 7], [6, 7]]);
  for (const e of evals) assert.ok(html.includes(`<tr><td>${e.step}</td>`), `eval row for step ${e.step}`);
  assert.ok(lines.includes('evaluating on 7 of the 10 eval examples (eval_max_examples)'), lines.join('\n'));

  // Timings: non-negative, the parts sum to total, and total is the stage's wall time, within 5%.
  const timings = Object.fromEntries([...html.split('<table class="timings">')[1]!.split('</table>')[0]!.matchAll(/<th>([^<]+)<\/th><td>([^<]+)<\/td>/g)]
    .map((m) => [m[1]!, Number(m[2])]));
  assert.deepEqual(Object.keys(timings), ['total', 'setup (backend, model, workers)', 'generating (base model, before training)', 'training', 'evaluation',
    'checkpoints', 'stopping workers', 'generating (tuned model)', 'writing the adapter and plot']);
  for (const [k, v] of Object.entries(timings)) assert.ok(Number.isFinite(v) && v >= 0, `${k} = ${v}`);
  assert.ok(timings.evaluation! > 0 && timings.training! > 0 && timings.checkpoints! > 0, JSON.stringify(timings));
  assert.ok(timings['generating (base model, before training)']! > 0 && timings['generating (tuned model)']! > 0, JSON.stringify(timings));
  const { total, ...parts } = timings;
  const sum = Object.values(parts).reduce((a, b) => a + b, 0);
  assert.ok(Math.abs(sum - total!) <= 0.003, `parts ${sum} vs total ${total}`);
  const wall = sft.ms / 1000;
  assert.ok(Math.abs(total! - wall) <= 0.05 * wall, `report total ${total} s vs the stage's wall time ${wall} s`);
  const perEval = evals.reduce((n, m) => n + m.eval_seconds!, 0);
  assert.ok(Math.abs(perEval - timings.evaluation!) <= 0.002 * evals.length, `${perEval} vs ${timings.evaluation}`);
});

test('eval_generate: held-out prompts without their answers, answered greedily by the base model before training and the tuned adapter after', async () => {
  const dir = tempDir();
  const file = writeTinyProject(dir, { eval_generate: 3, eval_max_new_tokens: 6 });
  const { ir, diagnostics } = compileFile(file);
  assert.ok(ir, JSON.stringify(diagnostics));
  const result = await execute(await planPipeline(ir), ir, {
    cache: new ArtifactCache(join(dir, 'cache')), report: () => {}, logger: () => quietLog, backend: 'cpu', workers: 1,
  });
  const tok = result.stages.find((s) => s.name === 'tok')!;
  const sft = result.stages.find((s) => s.name === 'sft')!;
  const rows = readFileSync(join(dir, 'out', 'eval_generations.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as HeldOutAnswer);
  assert.equal(rows.length, 3);

  // The prompts are eval-split rows in the pipeline's template, the reference is their held-out output.
  const evalRows = readFileSync(join(result.stages.find((s) => s.name === 'prompts')!.dir, 'eval.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  const prompts = readHeldOutPrompts(tok.dir);
  const tokenizer = Tokenizer.fromString(readFileSync(join(tok.dir, 'tokenizer.json'), 'utf8'));
  const meta = readTokenDataset(tok.dir).meta;
  // What transformers' tokenizer(text) puts before a text: the prefix of every training example too.
  const prefix = meta.added_specials!.prefix;
  for (const [i, row] of rows.entries()) {
    assert.match(row.prompt, /^Q: What color is the \w+\?\nA:$/);
    assert.deepEqual([row.prompt, row.reference], [evalRows[i].prompt, evalRows[i].response]);
    assert.match(row.reference, /^ The \w+ is \w+\.$/);
    // The ids generation started from are the prompt alone: the prefix (BOS), then the prompt text, which decodes without the answer.
    const ids = (await tokenizer.encode(row.prompt, null, { addSpecialTokens: false })).getIds();
    assert.deepEqual(prompts[i]!.prompt_ids, [...prefix, ...ids]);
    assert.equal(await tokenizer.decode(prompts[i]!.prompt_ids, true), row.prompt);
  }

  // Independently: the base model alone, and base + the saved adapter, decode the same greedy answers.
  const modelDir = join(dir, 'model');
  const answer = async (m: LlamaCausalLM, ids: number[]) => {
    const room = Math.min(6, m.config.maxPositionEmbeddings - ids.length);
    return tokenizer.decode(generate(m, ids, { maxNewTokens: room, eosTokenIds: [...m.config.eosTokenIds, meta.eos_id!] }), true);
  };
  const base = loadCausalLM(modelDir);
  const tuned = loadCausalLM(modelDir, { adapterDir: join(dir, 'out') });
  try {
    for (const [i, row] of rows.entries()) {
      const ids = [...prefix, ...(await tokenizer.encode(row.prompt, null, { addSpecialTokens: false })).getIds()];
      assert.equal(row.base, await answer(base, ids), `base answer ${i}`);
      assert.equal(row.tuned, await answer(tuned, ids), `tuned answer ${i}`);
    }
  } finally {
    base.dispose();
    tuned.dispose();
  }
  assert.ok(rows.some((r) => r.base !== r.tuned), 'training changed at least one answer');

  const html = readFileSync(join(sft.dir, 'report.html'), 'utf8');
  const table = html.split('<table class="answers">')[1]!.split('</table>')[0]!;
  assert.match(table, /<th>prompt<\/th><th>reference<\/th><th>base model<\/th><th>tuned model<\/th>/);
  for (const r of rows) assert.ok(table.includes(`<tr>${[r.prompt, r.reference, r.base, r.tuned].map((t) => `<td>${escapeXml(visibleText(t))}</td>`).join('')}</tr>`));
});
