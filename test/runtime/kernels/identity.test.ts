import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '../../../src/runtime/tf.js';
import '@tensorflow/tfjs-backend-wasm';
import { installWasmKernels, uninstallWasmKernels } from '../../../src/runtime/kernels/index.js';

/** The wasm backend's own record of a buffer: where it lives and how many tensors hold it. */
function record(t: tf.Tensor): { offset: number; refs: number } {
  const backend = tf.backend() as unknown as { getMemoryOffset(id: object): number; refCount(id: object): number };
  return { offset: backend.getMemoryOffset(t.dataId), refs: backend.refCount(t.dataId) };
}

describe('shared Identity on wasm', () => {
  before(async () => {
    await tf.setBackend('wasm');
    assert.equal(installWasmKernels().installed, true);
  });
  after(() => uninstallWasmKernels());

  it('returns the same buffer with one more reference, and either side can be freed first', () => {
    const x = tf.tensor1d([1, 2, 3]);
    const y = tf.clone(x); // runs the Identity kernel
    assert.equal(record(y).offset, record(x).offset);
    assert.equal(record(x).refs, 2);
    x.dispose();
    assert.deepEqual([...y.dataSync()], [1, 2, 3]);
    assert.equal(record(y).refs, 1);
    const id = y.dataId;
    y.dispose();
    assert.equal((tf.backend() as unknown as { refCount(id: object): number }).refCount(id), 0, 'freed with its last tensor');
  });

  it('a Variable assigned after sharing does not change the saved value', () => {
    const v = tf.variable(tf.tensor1d([1, 2]));
    const saved = tf.clone(v);
    v.assign(tf.tensor1d([5, 6]));
    assert.deepEqual([...saved.dataSync()], [1, 2]);
    assert.deepEqual([...v.dataSync()], [5, 6]);
    tf.dispose([v, saved]);
  });

  it('gradients that save their inputs leak nothing across repeated steps', () => {
    const w = tf.variable(tf.randomNormal([8, 8], 0, 1, 'float32', 3));
    const x = tf.randomNormal([4, 8], 0, 1, 'float32', 4);
    const step = () => {
      const { value, grads } = tf.variableGrads(() => tf.sum(tf.square(tf.sigmoid(tf.matMul(x, w)))), [w]);
      const out = [value.dataSync()[0]!, grads[w.name]!.dataSync()[0]!];
      tf.dispose([value, ...Object.values(grads)]);
      return out;
    };
    const first = step();
    const before = tf.memory();
    for (let i = 0; i < 5; i++) assert.deepEqual(step(), first);
    assert.equal(tf.memory().numTensors, before.numTensors);
    assert.equal(tf.memory().numBytes, before.numBytes);
    tf.dispose([w, x]);
  });

  it('a cast to the same dtype shares the buffer; a real conversion converts', () => {
    const x = tf.tensor1d([1.5, -2.25]);
    const same = tf.cast(x, 'float32');
    assert.equal(record(same).offset, record(x).offset);
    const ints = tf.cast(x, 'int32');
    assert.equal(ints.dtype, 'int32');
    assert.deepEqual([...ints.dataSync()], [1, -2]);
    const back = tf.cast(tf.tensor1d([3, 4], 'int32'), 'float32');
    assert.equal(back.dtype, 'float32');
    assert.deepEqual([...back.dataSync()], [3, 4]);
    tf.dispose([x, same, ints, back]);
  });

  it('keeps string tensors on the built-in path', () => {
    const s = tf.tensor1d(['a', 'b'], 'string');
    const c = tf.clone(s);
    assert.deepEqual(c.dataSync(), s.dataSync());
    tf.dispose([s, c]);
  });
});
