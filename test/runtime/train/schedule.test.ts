import { test } from 'node:test';
import assert from 'node:assert/strict';
import { lrMultiplier, makeSchedule, warmupStepsOf } from '../../../src/runtime/train/schedule.js';

// Expected values worked out by hand from transformers' formulas (warmup 2, total 10).
test('linear schedule: warmup from 0, then linear decay to 0 at the last step', () => {
  const got = [0, 1, 2, 6, 9, 10].map((s) => lrMultiplier('linear', s, 2, 10));
  assert.deepEqual(got, [0, 0.5, 1, 0.5, 0.125, 0]);
});

test('cosine schedule: half a cosine from 1 to 0 after warmup', () => {
  const got = [1, 2, 4, 6, 10].map((s) => lrMultiplier('cosine', s, 2, 10));
  const expected = [0.5, 1, 0.8535533905932737, 0.5, 0];
  got.forEach((g, i) => assert.ok(Math.abs(g - expected[i]!) < 1e-12, `step ${[1, 2, 4, 6, 10][i]}: ${g}`));
});

test('constant schedule keeps its warmup, then stays at 1', () => {
  assert.deepEqual([0, 1, 2, 5, 100].map((s) => lrMultiplier('constant', s, 2, 10)), [0, 0.5, 1, 1, 1]);
  assert.deepEqual([0, 5].map((s) => lrMultiplier('constant', s, 0, 10)), [1, 1]);
});

test('warmup_ratio is used only when warmup_steps is 0, rounded up as transformers does', () => {
  assert.equal(warmupStepsOf({ totalSteps: 25, warmupSteps: 0, warmupRatio: 0.1 }), 3);
  assert.equal(warmupStepsOf({ totalSteps: 25, warmupSteps: 4, warmupRatio: 0.5 }), 4);
  const lr = makeSchedule({ kind: 'linear', lr: 2e-4, totalSteps: 25, warmupSteps: 0, warmupRatio: 0.1 });
  assert.ok(Math.abs(lr(1) - 2e-4 / 3) < 1e-18);
  assert.ok(Math.abs(lr(3) - 2e-4) < 1e-18);
});
