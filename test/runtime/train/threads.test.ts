import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseLlamaConfig } from '../../../src/model-spec/config.js';
import { estimateMemory, residentWeightDtype, WASM_HEAP_BYTES, type TrainingShape } from '../../../src/model-spec/memory.js';
import { trainingThreads } from '../../../src/runtime/train/parallel/threads.js';

/** Qwen2.5-0.5B's config.json numbers, BF16 as published. */
const QWEN = parseLlamaConfig({
  architectures: ['Qwen2ForCausalLM'], hidden_size: 896, intermediate_size: 4864, num_hidden_layers: 24, num_attention_heads: 14,
  num_key_value_heads: 2, vocab_size: 151936, tie_word_embeddings: true, torch_dtype: 'bfloat16', bos_token_id: 151643, eos_token_id: 151643,
}, 'config.json');
const SHAPE: TrainingShape = { batchSize: 16, maxLength: 512, r: 8, targetModules: ['q_proj', 'v_proj'], dropout: true, gradientCheckpointing: true, workers: 1 };
const GiB = 2 ** 30;

/** The plan's verdict for `workers` threads on this machine, as the runtime would hold the weights on wasm. */
const fits = (workers: number, ramGiB: number): boolean => {
  const e = estimateMemory(QWEN, { ...SHAPE, workers }, { heapBytesPerWorker: WASM_HEAP_BYTES, residentDtype: residentWeightDtype('bfloat16', 'wasm'), ramBytes: ramGiB * GiB });
  return e.fitsHeap && e.fitsRam;
};

test('workers = auto on wasm never runs more threads than the memory plan fits in RAM, and takes every one that fits', () => {
  for (const ram of [4, 6, 9, 12, 20, 64]) {
    const threads = trainingThreads(QWEN, SHAPE, 'wasm', 'auto', { ramBytes: ram * GiB, cores: 16 });
    assert.ok(threads >= 1 && threads <= 16, `${ram} GiB: ${threads}`);
    if (fits(1, ram)) assert.ok(fits(threads, ram), `${ram} GiB: ${threads} threads must fit`);
    if (threads < 16 && fits(1, ram)) assert.equal(fits(threads + 1, ram), false, `${ram} GiB: ${threads + 1} would fit too`);
  }
  // Tight RAM gives fewer threads than cores; plenty gives all of them (bounded by the batch's rows).
  assert.ok(trainingThreads(QWEN, SHAPE, 'wasm', 'auto', { ramBytes: 9 * GiB, cores: 16 }) < 16);
  assert.equal(trainingThreads(QWEN, SHAPE, 'wasm', undefined, { ramBytes: 256 * GiB, cores: 16 }), 16);
  assert.equal(trainingThreads(QWEN, { ...SHAPE, batchSize: 4 }, 'wasm', 'auto', { ramBytes: 256 * GiB, cores: 16 }), 4);
});

test('a number is taken as given (ftc check reports one that does not fit); native backends run one thread on auto', () => {
  assert.equal(trainingThreads(QWEN, SHAPE, 'wasm', 8, { ramBytes: 4 * GiB, cores: 16 }), 8);
  assert.equal(trainingThreads(QWEN, SHAPE, 'tensorflow', 'auto', { ramBytes: 256 * GiB, cores: 16 }), 1);
  // Even one worker past the limit still runs one (and fails clearly), never zero.
  assert.equal(trainingThreads(QWEN, SHAPE, 'wasm', 'auto', { ramBytes: 1 * GiB, cores: 16 }), 1);
});
