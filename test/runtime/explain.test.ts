import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import type { Plan } from '../../src/compiler/ir.js';
import { explainPlan, lockChanges, type ExplainOptions } from '../../src/runtime/explain.js';
import { lockFromPlan, parseLock, serializeLock, type LockFile } from '../../src/runtime/lockfile.js';
import { tempDir } from '../helpers.js';
import { chainSpecs, makePlan, type StageSpec } from './plan-fixture.js';

/** The last run's plan is both the lock and the cache's content, as after a successful `ftc run`. */
function lastRun(): { dir: string; before: Plan; lock: LockFile; cached: Set<string> } {
  const dir = tempDir();
  writeFileSync(join(dir, 'a.txt'), 'alpha\nbeta\n');
  writeFileSync(join(dir, 'b.txt'), 'gamma\n');
  const before = makePlan(dir, chainSpecs());
  // Round-trip through the serialized form, as `ftc plan` reads it from disk.
  const lock = parseLock(serializeLock(lockFromPlan(before)), 'p.ft.lock');
  return { dir, before, lock, cached: new Set(before.stages.map((s) => s.key)) };
}

async function explain(plan: Plan, lock: LockFile | undefined, cached: Set<string>, opts?: ExplainOptions) {
  const out = await explainPlan(plan, lock, async (k) => cached.has(k), opts);
  return Object.fromEntries(out.map((s) => [s.name, s.status === 'cached' ? 'cached' : s.reasons]));
}

test('nothing changed: every stage is cached with no reasons', async () => {
  const { before, lock, cached } = lastRun();
  assert.deepEqual(await explain(before, lock, cached), { raw: 'cached', other: 'cached', tok: 'cached', sft: 'cached' });
});

test('a changed parameter names the parameter and both values', async () => {
  const { dir, lock, cached } = lastRun();
  assert.deepEqual(await explain(makePlan(dir, chainSpecs({ lr: 0.0001 })), lock, cached), {
    raw: 'cached',
    other: 'cached',
    tok: 'cached',
    sft: ['parameter lr changed from 0.0002 to 0.0001'],
  });
});

test('a parameter that does not change the output (log_every) re-runs nothing', async () => {
  const { dir, lock, cached } = lastRun();
  const plan = makePlan(dir, chainSpecs({ logEvery: 1 }));
  assert.equal((await explain(plan, lock, cached)).sft, 'cached');
  assert.deepEqual(lockChanges(lock, lockFromPlan(plan)), []);
});

test('changed file content re-runs the reader and says which upstream stage forces the rest', async () => {
  const { dir, lock, cached } = lastRun();
  writeFileSync(join(dir, 'a.txt'), 'alpha\nbetA\n');
  assert.deepEqual(await explain(makePlan(dir, chainSpecs()), lock, cached), {
    raw: ['content of a.txt changed'],
    other: 'cached',
    tok: ['upstream stage raw will re-run'],
    sft: ['upstream stage tok will re-run'],
  });
});

test('a new stage, a new stage version, added, removed and nested parameters', async () => {
  const { dir, lock, cached } = lastRun();
  const specs: StageSpec[] = chainSpecs();
  specs[1] = { ...specs[1], version: 2 };
  specs[2] = { ...specs[2], params: { input: 'raw', train: { vocab_size: 4096 } } };
  specs.push({ name: 'ex', kind: 'export', params: { model: 'sft', format: 'peft', output: 'x' }, inputs: ['sft'] });
  const withNested = makePlan(dir, specs);
  assert.deepEqual(await explain(withNested, lock, cached), {
    raw: 'cached',
    other: ['stage version changed from 1 to 2'],
    tok: ['parameter max_length removed (was 16)', 'parameter train added ({"vocab_size":4096})'],
    sft: ['upstream stage tok will re-run'],
    ex: ['new stage'],
  });
  const lock2 = lockFromPlan(withNested);
  specs[2] = { ...specs[2], params: { input: 'raw', train: { vocab_size: 8192 } } };
  const cached2 = new Set(withNested.stages.map((s) => s.key));
  assert.deepEqual((await explain(makePlan(dir, specs), lock2, cached2)).tok, ['parameter train.vocab_size changed from 4096 to 8192']);
});

test('an entry missing from the cache, --force, --no-cache and no lock file', async () => {
  const { before, lock, cached } = lastRun();
  cached.delete(before.stages[0].key);
  assert.deepEqual(await explain(before, lock, cached), { raw: ['not in cache (entry missing or corrupt)'], other: 'cached', tok: 'cached', sft: 'cached' });
  assert.deepEqual(await explain(before, lock, new Set(before.stages.map((s) => s.key)), { force: ['tok'] }), {
    raw: 'cached',
    other: 'cached',
    tok: ['forced by --force'],
    sft: ['upstream stage tok will re-run'],
  });
  assert.deepEqual((await explain(before, lock, cached, { noCache: true })).other, ['cache disabled by --no-cache']);
  assert.deepEqual(await explain(before, undefined, cached), {
    raw: ['new stage (no lock file yet)'],
    other: 'cached',
    tok: 'cached',
    sft: 'cached',
  });
});

test('lockChanges lists every change for --frozen, stage by stage', () => {
  const { dir, lock } = lastRun();
  writeFileSync(join(dir, 'b.txt'), 'GAMMA\n');
  const specs = chainSpecs({ lr: 0.001 }).filter((s) => s.name !== 'raw' && s.name !== 'tok');
  specs.push({ name: 'tok2', kind: 'tokenizer', params: { input: 'other', max_length: 16 }, inputs: ['other'] });
  specs[1] = { ...specs[1], inputs: ['tok2'], params: { ...specs[1].params, data: 'tok2' } };
  assert.deepEqual(lockChanges(lock, lockFromPlan(makePlan(dir, specs))), [
    'stage raw: removed from the pipeline',
    'stage tok: removed from the pipeline',
    'stage other: content of b.txt changed',
    'stage sft: parameter data changed from "tok" to "tok2"',
    'stage sft: parameter lr changed from 0.0002 to 0.001',
    'stage sft: no longer depends on stage tok',
    'stage sft: new upstream stage tok2',
    'stage tok2: new stage',
  ]);
});
