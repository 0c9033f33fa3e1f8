import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '../../../src/runtime/tf.js';
import '@tensorflow/tfjs-backend-wasm';
import { FtcError } from '../../../src/errors.js';
import { installWasmKernels, uninstallWasmKernels } from '../../../src/runtime/kernels/index.js';
import { WASM_HEAP_MAX_BYTES, withMemoryStage } from '../../../src/runtime/kernels/heap.js';

/** Asserts `fn` throws the heap error naming `stage` and the size asked. */
function assertExhausted(fn: () => unknown, stage: string, asked: RegExp): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof FtcError, `expected an FtcError, got ${String(e)}`);
    assert.equal(e.code, 'E_WASM_HEAP_EXHAUSTED');
    assert.match(e.message, new RegExp(`during ${stage}`));
    assert.match(e.message, asked);
    assert.match(e.message, /4\.00 GiB budget per worker/);
    assert.ok(e.hint && /max_length/.test(e.hint));
    return true;
  });
}

describe('checked allocation on the wasm heap', () => {
  before(async () => {
    await tf.setBackend('wasm');
    assert.equal(installWasmKernels().installed, true);
  });
  after(() => uninstallWasmKernels());

  it('refuses a tensor the heap cannot grow to hold, instead of placing it at offset 0', () => {
    const before = tf.memory().numTensors;
    // Just under the 4 GiB limit: the guard's size check passes it, Emscripten's malloc returns 0 (the heap
    // cannot grow by that much on top of what it holds), which the backend would have used as an offset.
    const floats = Math.floor((WASM_HEAP_MAX_BYTES - 1024) / 4);
    assertExhausted(() => withMemoryStage('the test stage', () => tf.fill([floats], 1)), 'the test stage', /asked for 4\.00 GiB/);
    assert.equal(tf.memory().numTensors, before, 'nothing half-made stays registered');
  });

  it('refuses a request of 4 GiB or more rather than letting its size wrap to 32 bits', () => {
    // 5 GiB wraps to 1 GiB in the i32 argument of malloc, which would succeed with a block 4 GiB too small.
    assertExhausted(() => withMemoryStage('wrap check', () => tf.fill([5 * 2 ** 28], 1)), 'wrap check', /asked for 5\.00 GiB/);
  });

  it('names the stage of the innermost withMemoryStage, and the backend still computes right afterwards', () => {
    assertExhausted(() => withMemoryStage('outer', () => withMemoryStage('inner', () => tf.fill([2 ** 31], 0))), 'inner', /8\.00 GiB/);
    // After a refused allocation, real tensors still land in fresh memory and compute correctly.
    const a = tf.ones([64, 64]);
    const p = tf.matMul(a, a);
    assert.deepEqual([...p.dataSync()].slice(0, 3), [64, 64, 64]);
    tf.dispose([a, p]);
  });

});
