import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BatchPlan, collate, epochOrder, type ExampleSource } from '../../../src/runtime/train/batches.js';

const ex = (ids: number[], labels: number[]) => ({ ids: Int32Array.from(ids), labels: Int32Array.from(labels) });

test('collate pads right: ids with the pad id, labels with -100; counts loss tokens after the shift', () => {
  const b = collate([ex([1, 2, 3], [-100, 2, 3]), ex([4], [4])], 0);
  assert.equal(b.rows, 2);
  assert.equal(b.cols, 3);
  assert.deepEqual([...b.ids], [1, 2, 3, 4, 0, 0]);
  assert.deepEqual([...b.labels], [-100, 2, 3, 4, -100, -100]);
  assert.equal(b.lossTokens, 2); // the label at position 0 is never predicted
  assert.equal(b.inputTokens, 4);
});

test('epoch order: a seeded permutation, the same for the same (seed, epoch), different across epochs', () => {
  const a = epochOrder(20, 42, 0);
  assert.deepEqual([...a].sort((x, y) => x - y), Array.from({ length: 20 }, (_, i) => i));
  assert.deepEqual(epochOrder(20, 42, 0), a);
  assert.notDeepEqual(epochOrder(20, 42, 1), a);
  assert.notDeepEqual(epochOrder(20, 43, 0), a);
});

function source(n: number): ExampleSource {
  return { count: n, example: (i) => ex([i, i + 1], [i, i + 1]) };
}

test('grad accumulation: steps take gradAccum micro-batches, the last step of an epoch takes the rest', () => {
  // 7 examples, batch 2 → 4 micro-batches; accum 3 → steps of 3 and 1 micro-batches.
  const plan = new BatchPlan(source(7), { batchSize: 2, gradAccum: 3, seed: 1, padId: 0 });
  assert.equal(plan.microsPerEpoch, 4);
  assert.equal(plan.stepsPerEpoch, 2);
  const s1 = plan.nextStep();
  const s2 = plan.nextStep();
  assert.deepEqual([s1.micros.length, s1.epochEnd, s2.micros.length, s2.epochEnd], [3, false, 1, true]);
  const seen = [...s1.micros, ...s2.micros].flatMap((b) => [...b.ids].filter((_, i) => i % 2 === 0));
  assert.deepEqual(seen.sort((x, y) => x - y), [0, 1, 2, 3, 4, 5, 6]);
  assert.deepEqual(plan.position, { epoch: 1, micro: 0 });
});

test('a restored data position continues with the same batches', () => {
  const a = new BatchPlan(source(9), { batchSize: 2, gradAccum: 1, seed: 5, padId: 0 });
  const seqA = Array.from({ length: 12 }, () => [...a.nextStep().micros[0]!.ids]);
  const b = new BatchPlan(source(9), { batchSize: 2, gradAccum: 1, seed: 5, padId: 0 });
  for (let i = 0; i < 7; i++) b.nextStep();
  const saved = b.position;
  const c = new BatchPlan(source(9), { batchSize: 2, gradAccum: 1, seed: 5, padId: 0 });
  c.position = saved;
  const rest = Array.from({ length: 5 }, () => [...c.nextStep().micros[0]!.ids]);
  assert.deepEqual(rest, seqA.slice(7));
});
