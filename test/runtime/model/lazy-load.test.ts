import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { FtcError } from '../../../src/errors.js';
import { initBackend } from '../../../src/runtime/backend.js';
import type { HostTensor, WeightSource } from '../../../src/runtime/model/api.js';
import { createCausalLM } from '../../../src/runtime/model/causal-lm.js';
import { writeSafetensors } from '../../../src/runtime/model/safetensors.js';
import { loadWeights, openWeights } from '../../../src/runtime/model/weights.js';
import * as tf from '../../../src/runtime/tf.js';
import { llamaConfigToJson } from '../../../src/model-spec/config.js';
import { randomWeights, tinyConfig } from './fixtures.js';

const LORA = { r: 2, alpha: 4, targetModules: ['q_proj', 'v_proj'], dropout: 0, bias: 'none' as const, useRslora: false, seed: 3 };

/** Host bytes of a tensor as the loader hands it over (16-bit bits when kept half). */
const hostBytes = (t: HostTensor): number => (t.half ? t.half.bits.byteLength : t.data.byteLength);

/**
 * A source around openWeights that counts what the build holds: a tensor is "live" from its take until the backend
 * has grown by its size (the build uploaded it), and the most live host bytes at any take are recorded. The cpu
 * backend's tensors count every uploaded byte in tf.memory().numBytes, so the bound is exact, not a timing.
 */
function counting(source: WeightSource): WeightSource & { peakLive: () => number; taken: Map<string, number> } {
  const start = tf.memory().numBytes;
  let takenBytes = 0;
  let peak = 0;
  const taken = new Map<string, number>();
  return {
    info: (name) => source.info(name),
    take(name) {
      // Backend bytes beyond the start are uploads (plus LoRA's own matrices: only ever more); what was taken and is not
      // yet uploaded is still held on the host by the build.
      const pending = Math.max(0, takenBytes - (tf.memory().numBytes - start));
      const t = source.take(name);
      const bytes = 4 * t.shape.reduce((a, b) => a * b, 1); // what its upload adds (float32 on cpu)
      takenBytes += bytes;
      taken.set(name, (taken.get(name) ?? 0) + 1);
      peak = Math.max(peak, pending + hostBytes(t));
      return t;
    },
    peakLive: () => peak,
    taken,
  };
}

describe('lazy weight loading', () => {
  let dir: string;
  const config = tinyConfig({ numHiddenLayers: 3 });
  const weights = randomWeights(config);

  before(async () => {
    await initBackend('cpu');
    dir = mkdtempSync(join(tmpdir(), 'ftc-lazy-'));
    writeFileSync(join(dir, 'config.json'), JSON.stringify(llamaConfigToJson(config)));
    // Two shards and an index, as Hugging Face writes a large model.
    const names = [...weights.keys()];
    const half = Math.ceil(names.length / 2);
    const shards = [names.slice(0, half), names.slice(half)];
    const map: Record<string, string> = {};
    shards.forEach((part, i) => {
      const file = `model-0000${i + 1}-of-00002.safetensors`;
      writeSafetensors(join(dir, file), new Map(part.map((n) => [n, { ...weights.get(n)!, dtype: 'BF16' as const }])));
      for (const n of part) map[n] = file;
    });
    writeFileSync(join(dir, 'model.safetensors.index.json'), JSON.stringify({ metadata: {}, weight_map: map }));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('the build takes each tensor once and holds at most one on the host at a time (the largest bounds the peak)', () => {
    const source = counting(openWeights(dir, config, { keepHalf: true }));
    const model = createCausalLM(config, source, LORA, { releaseHost: true });
    try {
      const largest = Math.max(...[...weights.values()].map((t) => t.data.byteLength));
      const whole = [...weights.values()].reduce((a, t) => a + t.data.byteLength, 0);
      assert.ok(source.peakLive() <= largest, `peak live ${source.peakLive()} bytes, largest tensor ${largest}`);
      assert.ok(source.peakLive() < whole / 4, `peak live ${source.peakLive()} against the whole model's ${whole}`);
      assert.equal(source.taken.size, weights.size, 'every tensor taken');
      assert.ok([...source.taken.values()].every((n) => n === 1), 'none twice');
    } finally {
      model.dispose();
    }
  });

  test('loaded lazily or all at once, the model computes the same logits', () => {
    const ids = tf.tensor2d([[1, 5, 7, 2]], [1, 4], 'int32');
    const lazy = createCausalLM(config, openWeights(dir, config, { keepHalf: true }));
    const eager = createCausalLM(config, loadWeights(dir, config, { keepHalf: true }), undefined, { releaseHost: true });
    try {
      const a = lazy.forward(ids);
      const b = eager.forward(ids);
      assert.deepEqual([...a.dataSync()], [...b.dataSync()]);
      tf.dispose([a, b]);
    } finally {
      lazy.dispose();
      eager.dispose();
      ids.dispose();
    }
  });

  test('a non-finite value in a tensor read late is an FtcError, and what was uploaded before it is freed', () => {
    const bad = mkdtempSync(join(tmpdir(), 'ftc-lazy-bad-'));
    try {
      writeFileSync(join(bad, 'config.json'), JSON.stringify(llamaConfigToJson(config)));
      const poisoned = new Map([...weights].map(([k, t]) => [k, { shape: t.shape, data: t.data.slice() }]));
      const name = 'model.norm.weight'; // uploaded last: every other tensor is on the backend when it is read
      poisoned.get(name)!.data[3] = Number.NaN;
      writeSafetensors(join(bad, 'model.safetensors'), new Map([...poisoned].map(([k, t]) => [k, { ...t, dtype: 'BF16' as const }])));
      const before = tf.memory().numTensors;
      assert.throws(() => createCausalLM(config, openWeights(bad, config, { keepHalf: true }), LORA), (e: unknown) =>
        e instanceof FtcError && e.code === 'E_MODEL_WEIGHTS_NONFINITE' && e.message.includes(name));
      assert.equal(tf.memory().numTensors, before, 'nothing stays allocated');
    } finally {
      rmSync(bad, { recursive: true, force: true });
    }
  });
});
