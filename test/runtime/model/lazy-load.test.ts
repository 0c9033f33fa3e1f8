import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
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

/** A WeakRef to a buffer nothing else references (made in its own frame, so no local keeps it). */
function unreferenced(): WeakRef<ArrayBuffer> {
  return new WeakRef(new ArrayBuffer(1 << 16));
}

/** A full garbage collection, from inside the process (node --test passes no --expose-gc). */
function collect(): void {
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  for (let i = 0; i < 4; i++) gc();
}

describe('lazy weight loading on wasm', () => {
  const config = tinyConfig({ numHiddenLayers: 3 });
  let dir: string;
  before(async () => {
    await initBackend('wasm'); // copies every upload into its heap: a host array left alive is one the build kept
    dir = mkdtempSync(join(tmpdir(), 'ftc-lazy-wasm-'));
    writeFileSync(join(dir, 'config.json'), JSON.stringify(llamaConfigToJson(config)));
    writeSafetensors(join(dir, 'model.safetensors'), new Map([...randomWeights(config)].map(([k, t]) => [k, { ...t, dtype: 'BF16' as const }])));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('no host copy outlives the build: every array the loader read is garbage once the model is built', async () => {
    const source = openWeights(dir, config, { keepHalf: true });
    const reads: Array<WeakRef<ArrayBuffer>> = [];
    const watched: WeightSource = {
      info: (name) => source.info(name),
      take(name) {
        const t = source.take(name);
        reads.push(new WeakRef(t.half ? t.half.bits.buffer as ArrayBuffer : t.data.buffer as ArrayBuffer));
        return t;
      },
    };
    // The check itself: a buffer still referenced survives the collection, a dropped one does not.
    const kept = new ArrayBuffer(1 << 16);
    const control = new WeakRef(kept);
    const droppedRef = unreferenced();
    const model = createCausalLM(config, watched, LORA, { releaseHost: true });
    try {
      // A WeakRef's target is kept to the end of the job that made or read it: collect in a later one.
      await new Promise((resolve) => setTimeout(resolve, 0));
      collect();
      assert.ok(control.deref() === kept && droppedRef.deref() === undefined, 'the collection works');
      assert.ok(reads.length > 0);
      const alive = reads.filter((r) => r.deref() !== undefined).length;
      assert.equal(alive, 0, `${alive} of ${reads.length} host arrays still referenced after the build`);
    } finally {
      model.dispose();
    }
  });
});
