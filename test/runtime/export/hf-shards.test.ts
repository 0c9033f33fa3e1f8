import assert from 'node:assert/strict';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { writeHfWeights } from '../../../src/runtime/export/hf.js';
import type { WeightMap } from '../../../src/runtime/model/api.js';
import { readSafetensorsIndex, readSafetensors } from '../../../src/runtime/model/safetensors.js';
import { tempDir } from '../../helpers.js';

/** Five tensors of 100, 300, 50, 400 and 10 float32 values (400, 1200, 200, 1600, 40 bytes). */
function weights(): WeightMap {
  const sizes: Array<[string, number]> = [['a.weight', 100], ['b.weight', 300], ['c.weight', 50], ['d.weight', 400], ['e.weight', 10]];
  return new Map(sizes.map(([name, n], k) => [name, { shape: [n], data: Float32Array.from({ length: n }, (_, i) => k * 1000 + i) }]));
}

test('at or below the limit: one model.safetensors, no index', () => {
  const dir = tempDir();
  assert.deepEqual(writeHfWeights(dir, weights(), 'f32', 3440), ['model.safetensors']);
  assert.ok(!existsSync(join(dir, 'model.safetensors.index.json')));
});

test('above the limit: shards in name order, each filled until the next tensor would overflow it, and an index transformers\' layout', () => {
  const dir = tempDir();
  const files = writeHfWeights(dir, weights(), 'f32', 1700);
  // a+b = 1600 (c would make 1800); c+d would be 1800, so c alone; d+e = 1640.
  assert.deepEqual(files, ['model-00001-of-00003.safetensors', 'model-00002-of-00003.safetensors', 'model-00003-of-00003.safetensors', 'model.safetensors.index.json']);
  const index = JSON.parse(readFileSync(join(dir, 'model.safetensors.index.json'), 'utf8'));
  assert.equal(index.metadata.total_size, 3440);
  assert.deepEqual(index.weight_map, {
    'a.weight': 'model-00001-of-00003.safetensors', 'b.weight': 'model-00001-of-00003.safetensors', 'c.weight': 'model-00002-of-00003.safetensors',
    'd.weight': 'model-00003-of-00003.safetensors', 'e.weight': 'model-00003-of-00003.safetensors',
  });
  // ftc's own reader of sharded checkpoints finds every tensor with its values.
  const where = readSafetensorsIndex(join(dir, 'model.safetensors.index.json'));
  for (const [name, t] of weights()) assert.deepEqual(readSafetensors(where.get(name)!).get(name)!.data, t.data, name);
  // A tensor larger than the limit gets a shard of its own.
  const big = tempDir();
  assert.equal(writeHfWeights(big, weights(), 'bf16', 300).length, 5 + 1);
  assert.ok(statSync(join(big, 'model-00004-of-00005.safetensors')).size > 800);
});
