import assert from 'node:assert/strict';
import { test } from 'node:test';
import { schemas, STAGE_KINDS } from '../../../src/schema/index.js';
import { loadBuiltinStages, stageRegistry } from '../../../src/runtime/stages/index.js';

test('the registry has every stage kind, and each lazily loaded file matches its entry (kind, schema x-version)', async () => {
  assert.deepEqual([...stageRegistry.keys()].sort(), [...STAGE_KINDS].sort());
  const loaded = await loadBuiltinStages();
  assert.deepEqual(loaded.map((s) => s.kind).sort(), [...STAGE_KINDS].sort());
  for (const impl of loaded) {
    const entry = stageRegistry.get(impl.kind)!;
    assert.equal(impl.version, entry.version, impl.kind);
    assert.equal(impl.version, schemas[impl.kind]['x-version'], impl.kind);
  }
});
