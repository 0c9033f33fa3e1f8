import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { readTokenDataset, writeTokenDataset } from '../../../src/runtime/tokenize/dataset.js';
import { FtcError } from '../../../src/errors.js';
import { tempDir } from '../../helpers.js';

const base = { vocab_size: 50, bos_id: 1, eos_id: 2, pad_id: 2, max_length: 8, train_on_inputs: false, tokenizer_sha256: 'ab' };

test('round trip: ids in the vocabulary\'s width, a one-bit mask, offsets per split, little-endian on disk', () => {
  const dir = tempDir();
  const train = [
    { ids: [1, 10, 11, 2], labels: [-100, -100, 11, 2] },
    { ids: [1, 40000, 2], labels: [-100, 40000, 2] },
  ];
  const meta = writeTokenDataset(dir, { ...base, packed: false }, { train, eval: [{ ids: [1, 7], labels: [-100, 7] }] });
  assert.deepEqual(meta.splits, { train: { examples: 2, tokens: 7, segments: 2 }, eval: { examples: 1, tokens: 2, segments: 1 } });
  // Independent check of the byte layout: u16 LE ids (a 50-entry vocabulary), mask bits LSB first, u32 offsets.
  assert.equal(meta.id_bytes, 2);
  const ids = readFileSync(join(dir, 'train.ids.u16'));
  assert.equal(ids.length, 14);
  assert.equal(ids.readUInt16LE(2 * 5), 40000);
  // Trained: tokens 2, 3 (example 0) and 5, 6 (example 1) of 7 → 0b01101100.
  assert.deepEqual([...readFileSync(join(dir, 'train.mask.bits'))], [0b01101100]);
  const offsets = readFileSync(join(dir, 'train.offsets.u32'));
  assert.deepEqual([0, 1, 2].map((i) => offsets.readUInt32LE(4 * i)), [0, 4, 7]);

  const ds = readTokenDataset(dir);
  assert.equal(ds.meta.vocab_size, 50);
  const t = ds.split('train');
  assert.equal(t.count, 2);
  assert.deepEqual([...t.example(1).ids], [1, 40000, 2]);
  assert.deepEqual([...t.example(0).labels], [-100, -100, 11, 2]);
  assert.deepEqual(t.example(0).segments, [0]);
  assert.deepEqual([...ds.split('eval').example(0).ids], [1, 7]);
  assert.equal(ds.split('missing').count, 0);
  assert.throws(() => t.example(2), RangeError);
});

test('packed datasets give each sequence its segment starts, in any access order', () => {
  const dir = tempDir();
  writeTokenDataset(dir, { ...base, packed: true }, {
    train: [
      { ids: [1, 3, 2, 1, 4, 2], labels: [-100, 3, 2, -100, 4, 2], segments: [0, 3] },
      { ids: [1, 5, 6, 2], labels: [-100, 5, 6, 2], segments: [0] },
      { ids: [1, 5, 1, 6, 1, 7], labels: [-100, 5, -100, 6, -100, 7], segments: [0, 2, 4] },
    ],
  });
  const s = readTokenDataset(dir).split('train');
  assert.deepEqual([2, 0, 1, 2, 0].map((i) => s.example(i).segments), [[0, 2, 4], [0, 3], [0], [0, 2, 4], [0, 3]]);
});

test('a truncated or inconsistent dataset is an FtcError, not a wrong read', () => {
  const dir = tempDir();
  writeTokenDataset(dir, { ...base, packed: false }, { train: [{ ids: [1, 2, 3], labels: [1, 2, 3] }] });
  const ids = readFileSync(join(dir, 'train.ids.u16'));
  writeFileSync(join(dir, 'train.ids.u16'), ids.subarray(0, 4));
  assert.throws(() => readTokenDataset(dir).split('train'), (e: unknown) => e instanceof FtcError && e.code === 'E_TOKEN_DATASET_CORRUPT' && /holds 4 bytes, meta.json implies 6/.test(e.message));
  writeFileSync(join(dir, 'train.ids.u16'), ids);
  const offsets = readFileSync(join(dir, 'train.offsets.u32'));
  writeFileSync(join(dir, 'train.offsets.u32'), offsets.subarray(0, 7));
  assert.throws(() => readTokenDataset(dir).split('train'), /not a whole number of 32-bit values/);
});

test('a vocabulary over 65,536 entries stores u32 ids; a label other than its id or -100 is refused', () => {
  const dir = tempDir();
  const meta = writeTokenDataset(dir, { ...base, vocab_size: 150_000, packed: false }, { train: [{ ids: [1, 149_999, 2], labels: [-100, 149_999, 2] }] });
  assert.equal(meta.id_bytes, 4);
  assert.equal(readFileSync(join(dir, 'train.ids.u32')).readUInt32LE(4), 149_999);
  assert.deepEqual([...readTokenDataset(dir).split('train').example(0).labels], [-100, 149_999, 2]);
  assert.throws(() => writeTokenDataset(tempDir(), { ...base, packed: false }, { train: [{ ids: [1, 2], labels: [-100, 5] }] }), /neither its id/);
});
