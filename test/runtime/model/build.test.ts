import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { before, describe, test } from 'node:test';
import { FtcError } from '../../../src/errors.js';
import { initBackend } from '../../../src/runtime/backend.js';
import { createCausalLM } from '../../../src/runtime/model/causal-lm.js';
import { readSafetensors, writeSafetensors } from '../../../src/runtime/model/safetensors.js';
import * as tf from '../../../src/runtime/tf.js';
import { randomWeights, tinyConfig } from './fixtures.js';

describe('non-finite base weights', () => {
  before(async () => {
    await initBackend('cpu');
  });

  for (const bad of [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY]) {
    test(`a ${bad} in a BF16 checkpoint's weight is an FtcError naming the tensor, and nothing stays allocated`, () => {
      const config = tinyConfig();
      const weights = randomWeights(config);
      const name = 'model.layers.1.mlp.up_proj.weight';
      weights.get(name)!.data[5] = bad;
      // Through a real BF16 file: the non-finite value survives the 16-bit encoding and the widening on read.
      const dir = mkdtempSync(join(tmpdir(), 'ftc-nonfinite-'));
      try {
        const file = join(dir, 'model.safetensors');
        writeSafetensors(file, new Map([...weights].map(([k, t]) => [k, { ...t, dtype: 'BF16' as const }])));
        const before = tf.memory().numTensors;
        assert.throws(() => createCausalLM(config, readSafetensors(file)), (e: unknown) => {
          assert.ok(e instanceof FtcError);
          assert.equal(e.code, 'E_MODEL_WEIGHTS_NONFINITE');
          assert.match(e.message, new RegExp(`${name.replace(/\./g, '\\.')} holds ${String(bad)} at flat index 5`));
          return true;
        });
        assert.equal(tf.memory().numTensors, before, 'found before any upload');
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  }

  test('finite weights load; with releaseHost the host map is emptied as tensors upload, without it left intact', () => {
    const config = tinyConfig();
    const kept = randomWeights(config);
    const count = kept.size;
    createCausalLM(config, kept).dispose();
    assert.equal(kept.size, count);
    const released = randomWeights(config);
    const model = createCausalLM(config, released, undefined, { releaseHost: true });
    assert.equal(released.size, 0);
    const logits = model.forward(tf.tensor2d([[1, 2, 3]], [1, 3], 'int32'));
    assert.ok(logits.dataSync().every(Number.isFinite));
    logits.dispose();
    model.dispose();
  });
});
