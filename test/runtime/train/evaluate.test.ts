import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { initBackend } from '../../../src/runtime/backend.js';
import { CheckpointDir, peftAdapterFiles } from '../../../src/runtime/train/checkpoint.js';
import { evalLoss, evalSubset } from '../../../src/runtime/train/evaluate.js';
import { train, type TrainConfig, type TrainInputs } from '../../../src/runtime/train/loop.js';
import type { StageLogger } from '../../../src/runtime/stage.js';
import { tempDir } from '../../helpers.js';
import { countingData, tinyLM } from './tiny-lm.js';

const CONFIG: TrainConfig = {
  batchSize: 3, gradAccum: 2, epochs: 2, lr: 0.05, weightDecay: 0.01, beta1: 0.9, beta2: 0.999, eps: 1e-8,
  scheduler: 'cosine', warmupSteps: 2, warmupRatio: 0, maxGradNorm: 1, logEvery: 1, evalEvery: 0, saveEvery: 0, patience: 0, seed: 3,
};
const TRAIN = countingData(20);
const EVAL = countingData(9, { seed: 99 });
const ADAPTER = { r: 2, alpha: 4, dropout: 0.2, targetModules: ['q_proj'], bias: 'none' as const, useRslora: false, baseModel: 'tiny' };

function logger(lines: string[]): StageLogger {
  return { info: (m) => lines.push(m), warn: (m) => lines.push(`warn: ${m}`), progress: () => ({ update: () => {}, done: () => {} }) };
}

async function run(over: Partial<TrainConfig> = {}, extra: Partial<TrainInputs> = {}) {
  await initBackend('cpu');
  const model = tinyLM({ dropout: 0.2 });
  try {
    return await train({ model, train: TRAIN, eval: EVAL, padId: 0, config: { ...CONFIG, ...over }, ...extra });
  } finally {
    model.dispose();
  }
}

const evalsOf = (r: Awaited<ReturnType<typeof run>>) => r.metrics.records.filter((m) => m.eval_loss !== undefined);

test('by default there is no evaluation before the first update (transformers: eval_on_start=False); eval_on_start adds it', async () => {
  // 7 micro-batches of 3 → 4 steps per epoch, 2 epochs: evaluations at the epoch ends, steps 4 and 8.
  assert.deepEqual(evalsOf(await run()).map((m) => m.step), [4, 8]);
  const withStart = evalsOf(await run({ evalOnStart: true }));
  assert.deepEqual(withStart.map((m) => m.step), [0, 4, 8]);
  // The baseline is the untrained model's loss over the whole eval split.
  await initBackend('cpu');
  const fresh = tinyLM({ dropout: 0.2 });
  assert.equal(withStart[0]!.eval_loss, evalLoss(fresh, EVAL, 3, 0));
  fresh.dispose();
});

test('eval_max_examples evaluates a seeded sample of that size, the same at every evaluation', async () => {
  const sub = evalSubset(EVAL, 4, 3);
  assert.equal(sub.count, 4);
  const picked = Array.from({ length: 4 }, (_, i) => Array.from({ length: EVAL.count }, (_, j) => j).find((j) => EVAL.example(j) === sub.example(i))!);
  assert.equal(new Set(picked).size, 4, 'four distinct examples of the split');
  assert.deepEqual(picked, [...picked].sort((a, b) => a - b), 'kept in the split order');
  const again = evalSubset(EVAL, 4, 3);
  assert.deepEqual(Array.from({ length: 4 }, (_, i) => again.example(i)), Array.from({ length: 4 }, (_, i) => sub.example(i)));
  assert.equal(evalSubset(EVAL, 9, 3), EVAL, 'a cap at or above the split size keeps the split');
  assert.equal(evalSubset(EVAL, undefined, 3), EVAL);

  const lines: string[] = [];
  const r = await run({ evalMaxExamples: 4, evalOnStart: true }, { log: logger(lines) });
  const evals = evalsOf(r);
  assert.deepEqual(evals.map((m) => m.eval_examples), [4, 4, 4]);
  assert.ok(lines.includes('evaluating on 4 of the 9 eval examples (eval_max_examples)'), lines.join('\n'));
  // The baseline equals the untrained model's loss over exactly that sample.
  await initBackend('cpu');
  const fresh = tinyLM({ dropout: 0.2 });
  assert.equal(evals[0]!.eval_loss, evalLoss(fresh, sub, 3, 0));
  assert.notEqual(evals[0]!.eval_loss, evalLoss(fresh, EVAL, 3, 0));
  fresh.dispose();
  const full = evalsOf(await run({ evalOnStart: true }));
  assert.deepEqual(full.map((m) => m.eval_examples), [9, 9, 9]);
});

test('a running evaluation writes progress lines (throttled; none for the last batch) and a result line with its size and time', async () => {
  const lines: string[] = [];
  await run({ maxSteps: 1 }, { log: logger(lines), evalProgressSeconds: 0 });
  // 9 examples in batches of 3: progress after the first two batches, then the result.
  const evalLines = lines.filter((l) => l.startsWith('step 1: eval'));
  assert.equal(evalLines.length, 3, lines.join('\n'));
  assert.match(evalLines[0]!, /^step 1: evaluating: 3\/9 examples, \d+ s elapsed, about \d+ s left$/);
  assert.match(evalLines[1]!, /^step 1: evaluating: 6\/9 examples, /);
  assert.match(evalLines[2]!, /^step 1: eval_loss \d+\.\d{4} eval_ppl \d+\.\d{2} \(9 examples, \d+\.\d s\)$/);
  const quiet: string[] = [];
  await run({ maxSteps: 1 }, { log: logger(quiet) }); // default: at most one line per 10 s
  assert.equal(quiet.filter((l) => l.includes('evaluating:')).length, 0);
});

test('training, evaluation and checkpoint seconds are non-negative and sum to the wall time of the call', async () => {
  for (const evalOnStart of [false, true]) {
    const t0 = performance.now();
    const r = await run({ evalOnStart, evalEvery: 1, saveEvery: 2 }, { checkpoints: new CheckpointDir(join(tempDir(), 'ck'), peftAdapterFiles(ADAPTER)) });
    const wall = (performance.now() - t0) / 1000;
    const s = r.seconds;
    for (const [k, v] of Object.entries(s)) assert.ok(v >= 0, `${k} = ${v}`);
    assert.ok(s.eval > 0 && s.checkpoint > 0 && s.train > 0, JSON.stringify(s));
    assert.ok(Math.abs(s.train + s.eval + s.checkpoint - s.total) < 1e-9, JSON.stringify(s));
    // run() also builds and disposes the model outside train(); the rest is the call itself.
    assert.ok(s.total <= wall && s.total >= 0.95 * wall - 0.05, `total ${s.total} of wall ${wall}`);
    const perEval = evalsOf(r).reduce((n, m) => n + m.eval_seconds!, 0);
    assert.ok(Math.abs(perEval - s.eval) < 1e-3 * evalsOf(r).length, `${perEval} vs ${s.eval}`);
  }
});
