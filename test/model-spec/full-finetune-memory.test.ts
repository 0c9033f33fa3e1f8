import assert from 'node:assert/strict';
import { test } from 'node:test';
import { estimateMemory, residentWeightDtype, WASM_HEAP_BYTES, type TrainingShape } from '../../src/model-spec/memory.js';
import { fullTrainableCount, trainedWeightNames } from '../../src/model-spec/train-modules.js';
import type { LlamaConfig } from '../../src/model-spec/config.js';

/** Qwen2.5-0.5B's numbers (494,032,768 parameters, tied embeddings, qkv biases). */
const QWEN: LlamaConfig = {
  vocabSize: 151936, hiddenSize: 896, intermediateSize: 4864, numHiddenLayers: 24, numAttentionHeads: 14, numKeyValueHeads: 2, headDim: 64,
  maxPositionEmbeddings: 32768, rmsNormEps: 1e-6, ropeTheta: 1e6, ropeScaling: null, tieWordEmbeddings: true, attentionBias: true,
  bosTokenId: undefined as unknown as number, eosTokenId: 151643, eosTokenIds: [151643], architecture: 'Qwen2ForCausalLM', modelType: 'qwen2',
};
const SHAPE: TrainingShape = { batchSize: 1, maxLength: 256, r: 0, targetModules: [], dropout: false, gradientCheckpointing: false, workers: 1 };
// Full fine-tuning reads every weight widened (causal-lm.ts: no keepHalf), so a bf16 checkpoint is float32-resident.
const TARGET = { heapBytesPerWorker: WASM_HEAP_BYTES, residentDtype: residentWeightDtype('bfloat16', 'wasm', { full: true }), ramBytes: 64 * 2 ** 30 };

test('full fine-tuning trains every parameter once (tied embeddings once): the published count', () => {
  assert.equal(fullTrainableCount(QWEN), 494_032_768);
  assert.equal(trainedWeightNames(QWEN).length, 1 + 24 * 12 + 1, 'embed_tokens, 12 tensors a layer (7 linears, 3 biases, 2 norms), norm');
  assert.deepEqual(trainedWeightNames(QWEN, ['lm_head']), ['model.embed_tokens.weight'], 'tied: lm_head is embed_tokens');
  // q/k/v biases with their linears: 24 layers × (896·896 + 896 + 2·(128·896 + 128)).
  assert.equal(fullTrainableCount(QWEN, ['q_proj', 'k_proj', 'v_proj']), 24 * (896 * 896 + 896 + 2 * (128 * 896 + 128)));
});

test('the memory plan counts full fine-tuning as float32 values + gradients + two AdamW moments of every trained parameter', () => {
  const n = fullTrainableCount(QWEN);
  const full = estimateMemory(QWEN, { ...SHAPE, fullParams: n }, TARGET);
  assert.equal(full.adapter, n * 4 * 2, 'values and gradients');
  assert.equal(full.optimizer, n * 4 * 2, 'm and v');
  // 16 bytes a parameter: 7.4 GiB for a 0.5B model, which no wasm heap (4 GiB) holds.
  assert.ok(full.perWorker > 16 * n && !full.fitsHeap && full.maxWorkers === 0);
  const frozen = estimateMemory(QWEN, SHAPE, TARGET);
  assert.ok(full.weights < frozen.weights / 100, 'nothing is left frozen in its stored dtype but the vectors');
  // A subset trains fewer: the frozen rest stays float32 beside it.
  const subset = fullTrainableCount(QWEN, ['q_proj']);
  const part = estimateMemory(QWEN, { ...SHAPE, fullParams: subset }, TARGET);
  assert.equal(TARGET.residentDtype, 'float32');
  assert.equal(part.optimizer, subset * 8);
  assert.equal(part.weights, frozen.weights - subset * 4, 'the trained subset leaves the frozen weights');
  // The host holds the whole model widened before the build (loadWeights, not openWeights).
  assert.equal(full.hostLoad, fullTrainableCount(QWEN) * 4);
});
