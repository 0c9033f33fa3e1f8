import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { estimateMemory, parameterCount, WASM_HEAP_BYTES, workersThatFit, type ModelDims, type TrainingShape } from '../../src/model-spec/memory.js';
import { WASM_HEAP_MAX_BYTES } from '../../src/runtime/kernels/heap.js';
import { resolveWorkers } from '../../src/runtime/train/parallel/pool.js';

const QWEN_05B: ModelDims = {
  hiddenSize: 896, intermediateSize: 4864, numHiddenLayers: 24, numAttentionHeads: 14, numKeyValueHeads: 2, headDim: 64,
  vocabSize: 151936, tieWordEmbeddings: true, qkvBias: true,
};
const TINYLLAMA: ModelDims = {
  hiddenSize: 2048, intermediateSize: 5632, numHiddenLayers: 22, numAttentionHeads: 32, numKeyValueHeads: 4, headDim: 64,
  vocabSize: 32000, tieWordEmbeddings: false, qkvBias: false,
};
const REFERENCE: ModelDims = {
  hiddenSize: 256, intermediateSize: 688, numHiddenLayers: 4, numAttentionHeads: 8, numKeyValueHeads: 8, headDim: 32,
  vocabSize: 2048, tieWordEmbeddings: false, qkvBias: false,
};
const LORA: TrainingShape = { batchSize: 1, maxLength: 512, r: 8, targetModules: ['q_proj', 'v_proj'], dropout: true, gradientCheckpointing: false, workers: 1 };
const WASM = { heapBytesPerWorker: WASM_HEAP_BYTES, weightBytes: 4, ramBytes: 16 * 2 ** 30 };
const GiB = 2 ** 30;

describe('memory plan', () => {
  test('parameter counts are the published ones (Qwen2.5-0.5B 494,032,768; TinyLlama-1.1B 1,100,048,384)', () => {
    const total = (m: ModelDims) => { const p = parameterCount(m); return p.matrices + p.vectors; };
    assert.equal(total(QWEN_05B), 494_032_768);
    assert.equal(total(TINYLLAMA), 1_100_048_384);
  });

  test('the heap limit is the one the runtime checks allocations against', () => {
    assert.equal(WASM_HEAP_BYTES, WASM_HEAP_MAX_BYTES);
  });

  test('weights count in their resident dtype: 16-bit halves them', () => {
    const f32 = estimateMemory(QWEN_05B, LORA, WASM);
    const half = estimateMemory(QWEN_05B, LORA, { ...WASM, weightBytes: 2 });
    const p = parameterCount(QWEN_05B);
    assert.equal(f32.weights, p.matrices * 4 + p.vectors * 4);
    assert.equal(half.weights, p.matrices * 2 + p.vectors * 4);
  });

  test('adapter and optimizer: r·(in+out) per targeted module and layer, values+gradients and two moments', () => {
    const e = estimateMemory(QWEN_05B, LORA, WASM);
    const params = 24 * 8 * ((896 + 896) + (896 + 128));
    assert.equal(e.adapter, 2 * 4 * params);
    assert.equal(e.optimizer, 2 * 4 * params);
  });

  test('activations grow linearly in max_length once attention is chunked, and checkpointing shrinks them', () => {
    const at = (maxLength: number, gradientCheckpointing = false) => estimateMemory(REFERENCE, { ...LORA, maxLength, gradientCheckpointing }, WASM).activations;
    const ratio = at(4096) / at(2048);
    assert.ok(ratio > 1.9 && ratio < 2.1, `4096 vs 2048: ×${ratio}`);
    const qwen = (gradientCheckpointing: boolean) => estimateMemory(QWEN_05B, { ...LORA, gradientCheckpointing }, WASM).activations;
    assert.ok(qwen(true) < qwen(false) / 4, "24 layers: one layer's activations plus every layer's input");
  });

  test('a pipeline past the heap does not fit; the shorter one does', () => {
    assert.equal(estimateMemory(TINYLLAMA, LORA, WASM).fitsHeap, false, 'TinyLlama widened to float32 is 4.4 GB of weights alone');
    assert.equal(estimateMemory(QWEN_05B, { ...LORA, gradientCheckpointing: true }, WASM).fitsHeap, true);
    assert.equal(estimateMemory(QWEN_05B, { ...LORA, batchSize: 64, maxLength: 4096 }, WASM).fitsHeap, false);
  });

  test('workers = auto never picks more workers than fit in RAM', () => {
    const shape = { ...LORA, batchSize: 8, gradientCheckpointing: true };
    const ram = { ...WASM, ramBytes: 12 * GiB };
    const fit = workersThatFit(QWEN_05B, shape, ram, 8);
    assert.ok(fit > 1 && fit < 8, `fit ${fit}`);
    assert.equal(estimateMemory(QWEN_05B, { ...shape, workers: fit }, ram).fitsRam, true);
    assert.equal(estimateMemory(QWEN_05B, { ...shape, workers: fit + 1 }, ram).fitsRam, false);
    assert.ok(resolveWorkers('auto', 'wasm', 8, fit) <= fit);
    assert.equal(resolveWorkers(3, 'wasm', 8, 1), 3, 'a number is taken as given (check reports it)');
  });
});
