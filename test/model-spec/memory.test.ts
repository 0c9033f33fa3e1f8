import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parseLlamaConfig, type LlamaConfig } from '../../src/model-spec/config.js';
import { activationBytes, estimateMemory, residentWeightDtype, WASM_HEAP_BYTES, workersThatFit, type MemoryTarget, type TrainingShape } from '../../src/model-spec/memory.js';
import { baseParameterGroups } from '../../src/model-spec/params.js';
import { WASM_HEAP_MAX_BYTES } from '../../src/runtime/kernels/heap.js';
import { resolveWorkers } from '../../src/runtime/train/parallel/pool.js';

/** config.json in the published shapes (the fields that fix the memory; the rest at their defaults). */
const config = (json: Record<string, unknown>): LlamaConfig => parseLlamaConfig({ bos_token_id: 1, eos_token_id: 2, ...json }, 'config.json');
const QWEN_05B = config({
  architectures: ['Qwen2ForCausalLM'], hidden_size: 896, intermediate_size: 4864, num_hidden_layers: 24, num_attention_heads: 14,
  num_key_value_heads: 2, vocab_size: 151936, tie_word_embeddings: true,
});
const TINYLLAMA = config({
  architectures: ['LlamaForCausalLM'], hidden_size: 2048, intermediate_size: 5632, num_hidden_layers: 22, num_attention_heads: 32,
  num_key_value_heads: 4, vocab_size: 32000,
});
const REFERENCE = config({
  architectures: ['LlamaForCausalLM'], hidden_size: 256, intermediate_size: 688, num_hidden_layers: 4, num_attention_heads: 8,
  num_key_value_heads: 8, vocab_size: 2048, max_position_embeddings: 4096,
});
const LLAMA2_7B = config({
  architectures: ['LlamaForCausalLM'], hidden_size: 4096, intermediate_size: 11008, num_hidden_layers: 32, num_attention_heads: 32,
  num_key_value_heads: 32, vocab_size: 32000, rms_norm_eps: 1e-5,
});
const LORA: TrainingShape = { batchSize: 1, maxLength: 512, r: 8, targetModules: ['q_proj', 'v_proj'], dropout: true, gradientCheckpointing: false, workers: 1 };
const WASM: MemoryTarget = { heapBytesPerWorker: WASM_HEAP_BYTES, residentDtype: 'float32', ramBytes: 16 * 2 ** 30 };
const GiB = 2 ** 30;

describe('memory plan', () => {
  test('parameter counts are the published ones (Qwen2.5-0.5B 494,032,768; TinyLlama-1.1B 1,100,048,384)', () => {
    const total = (m: LlamaConfig) => { const g = baseParameterGroups(m); return g.linears + g.embeddings + g.vectors; };
    assert.equal(total(QWEN_05B), 494_032_768);
    assert.equal(total(TINYLLAMA), 1_100_048_384);
  });

  test('the heap limit is the one the runtime checks allocations against', () => {
    assert.equal(WASM_HEAP_BYTES, WASM_HEAP_MAX_BYTES);
  });

  test('weights count in their resident dtype: 16-bit halves the linears and a frozen embed_tokens (a tied head is it); vectors stay float32', () => {
    const f32 = estimateMemory(QWEN_05B, LORA, WASM);
    const half = estimateMemory(QWEN_05B, LORA, { ...WASM, residentDtype: 'bfloat16' });
    // Qwen2.5-0.5B by hand: tied embeddings 151936·896; per layer q,o 896², k,v 896·128, MLP 3·896·4864;
    // vectors: 2 norms + q/k/v biases (896 + 2·128) per layer, the final norm.
    const embeddings = 151936 * 896;
    const linears = 24 * (2 * 896 * 896 + 2 * 896 * 128 + 3 * 896 * 4864);
    const vectors = 24 * (2 * 896 + 896 + 256) + 896;
    assert.equal(f32.weights, (embeddings + linears + vectors) * 4);
    assert.equal(half.weights, (linears + embeddings) * 2 + vectors * 4);
    // An embed_tokens that modules_to_save trains is a float32 Variable.
    assert.equal(estimateMemory(QWEN_05B, { ...LORA, modulesToSave: ['embed_tokens'] }, { ...WASM, residentDtype: 'bfloat16' }).weights, linears * 2 + (embeddings + vectors) * 4);
    // TinyLlama's lm_head is untied: a frozen linear like the projections; both 16-bit, as embed_tokens is.
    const tiny = estimateMemory(TINYLLAMA, LORA, { ...WASM, residentDtype: 'float16' });
    const tinyLinears = 22 * (2 * 2048 * 2048 + 2 * 2048 * 256 + 3 * 2048 * 5632);
    const tinyVectors = 22 * 2 * 2048 + 2048;
    assert.equal(tiny.weights, (tinyLinears + 2 * 32000 * 2048) * 2 + tinyVectors * 4);
  });

  test('resident dtype: the stored 16-bit dtype on wasm (ftc kernels), float32 on native and cpu backends, for full fine-tuning or unknown', () => {
    assert.equal(residentWeightDtype('bfloat16', 'wasm'), 'bfloat16');
    assert.equal(residentWeightDtype('float16', 'wasm'), 'float16');
    assert.equal(residentWeightDtype('float32', 'wasm'), 'float32');
    assert.equal(residentWeightDtype(undefined, 'wasm'), 'float32');
    assert.equal(residentWeightDtype('bfloat16', 'wasm', { full: true }), 'float32');
    for (const b of ['tensorflow', 'tensorflow-gpu', 'cpu'] as const) assert.equal(residentWeightDtype('bfloat16', b), 'float32');
    // config.json's torch_dtype reaches the plan through LlamaConfig.
    assert.equal(residentWeightDtype(config({ architectures: ['LlamaForCausalLM'], torch_dtype: 'bfloat16' }).storedDtype, 'wasm'), 'bfloat16');
  });

  test('host load is the largest tensor as read, not the model: loading takes one tensor at a time', () => {
    const bf16 = { ...WASM, residentDtype: 'bfloat16' as const };
    // Qwen: embed_tokens as stored (151936·896·2) outweighs any 16-bit linear; float32 when read widened.
    assert.equal(estimateMemory(QWEN_05B, LORA, bf16).hostLoad, 151936 * 896 * 2);
    assert.equal(estimateMemory(QWEN_05B, LORA, WASM).hostLoad, 151936 * 896 * 4);
    assert.equal(estimateMemory(TINYLLAMA, LORA, bf16).hostLoad, 32000 * 2048 * 2);
    // The reference model's widest linear (the MLP's 256·688) at 2 bytes is less than its embedding.
    assert.equal(estimateMemory(REFERENCE, LORA, bf16).hostLoad, 2048 * 256 * 2);
  });

  test('adapter and optimizer: r·(in+out) per targeted module and layer, values+gradients and two moments', () => {
    const e = estimateMemory(QWEN_05B, LORA, WASM);
    const params = 24 * 8 * ((896 + 896) + (896 + 128));
    assert.equal(e.adapter, 2 * 4 * params);
    assert.equal(e.optimizer, 2 * 4 * params);
  });

  test('activations: by hand for the reference model, linear in T with the runtime\'s (flash) attention, superlinear with query chunks', () => {
    // Per layer and token, float32 (decoderLayer's tape): 8·256 + 4·688 + 5·256 (q) + 5·256 (k, 8 kv heads)
    // + q_proj/v_proj with dropout 2·(2·256 + 8) = 8400, plus what fused attention saves: q, out (8·32 each) and
    // k, v (8 kv heads · 32) = 1024, so 9424. Without checkpointing tfjs keeps about twice the tape (fitted).
    const flash = (maxLength: number, gradientCheckpointing = false) => activationBytes(REFERENCE, { ...LORA, maxLength, gradientCheckpointing }, 1, 'flash');
    assert.equal(flash(2048), 4 * 2048 * (2 * 4 * 9424 + 2 * 256), 'four layers (twice the tape) and the final norm');
    assert.equal(flash(2048, true), 4 * 2048 * (4 * 256 + 2 * 9424), "each layer's input, one layer recomputed with its gradients");
    assert.equal(flash(4096) / flash(2048), 2);
    assert.equal(flash(4096, true) / flash(2048, true), 2);
    const chunks = (maxLength: number) => activationBytes(REFERENCE, { ...LORA, maxLength }, 1, 'query-chunks');
    const ratio = chunks(4096) / chunks(2048);
    assert.ok(ratio > 2 && ratio < 4, `4096 vs 2048 with query chunks: ×${ratio} (measured heap ×2.35)`);
    // The whole estimate is linear in T too (weights and fixed scratch aside): what the runtime's attention makes.
    const heap = (maxLength: number) => estimateMemory(REFERENCE, { ...LORA, maxLength, gradientCheckpointing: true }, WASM).perWorker;
    const slope1 = heap(2048) - heap(1024);
    const slope2 = (heap(4096) - heap(2048)) / 2;
    assert.ok(Math.abs(slope2 / slope1 - 1) < 0.01, `per-token growth ${slope1} then ${slope2}`);
    const qwen = (gradientCheckpointing: boolean) => estimateMemory(QWEN_05B, { ...LORA, gradientCheckpointing }, WASM).activations;
    assert.ok(qwen(true) < qwen(false) / 4, "24 layers: one layer's activations plus every layer's input");
  });

  test('nf4: the layers\' linears at 4 bits plus a float32 absmax per 64 (rebuilt from the 8-bit one with double quant), embeddings as resident', () => {
    const embeddings = 2 * 32000 * 2048; // untied: embed_tokens and lm_head
    const linears = 22 * (2 * 2048 * 2048 + 2 * 2048 * 256 + 3 * 2048 * 5632);
    const vectors = 22 * 2 * 2048 + 2048;
    const nf4 = estimateMemory(TINYLLAMA, { ...LORA, quantization: 'nf4' }, WASM).weights;
    assert.equal(nf4, linears * (0.5 + 4 / 64) + embeddings * 4 + vectors * 4);
    const dq = estimateMemory(TINYLLAMA, { ...LORA, quantization: 'nf4', doubleQuant: true }, WASM).weights;
    // Nf4Weight rebuilds the float32 absmax once at load: double quantization shrinks the file, not the heap.
    assert.equal(dq, nf4);
  });

  test('TinyLlama with 16-bit resident weights fits at 512 with checkpointing and not at 2048', () => {
    const bf16: MemoryTarget = { ...WASM, residentDtype: 'bfloat16' };
    assert.equal(estimateMemory(TINYLLAMA, { ...LORA, gradientCheckpointing: true }, bf16).fitsHeap, true);
    assert.equal(estimateMemory(TINYLLAMA, { ...LORA, gradientCheckpointing: true, maxLength: 2048 }, bf16).fitsHeap, false);
  });

  test('a pipeline past the heap does not fit; the shorter one does', () => {
    assert.equal(estimateMemory(TINYLLAMA, LORA, WASM).fitsHeap, false, 'TinyLlama widened to float32 is 4.4 GB of weights alone');
    assert.equal(estimateMemory(QWEN_05B, { ...LORA, gradientCheckpointing: true }, WASM).fitsHeap, true);
    assert.equal(estimateMemory(QWEN_05B, { ...LORA, batchSize: 64, maxLength: 4096 }, WASM).fitsHeap, false);
  });

  test('workers = auto never picks more workers than fit in RAM', () => {
    const shape = { ...LORA, batchSize: 8, maxLength: 128, gradientCheckpointing: true };
    const ram = { ...WASM, ramBytes: 12 * GiB };
    const fit = workersThatFit(QWEN_05B, shape, ram, 8);
    assert.ok(fit > 1 && fit < 8, `fit ${fit}`);
    assert.equal(estimateMemory(QWEN_05B, { ...shape, workers: fit }, ram).fitsRam, true);
    assert.equal(estimateMemory(QWEN_05B, { ...shape, workers: fit + 1 }, ram).fitsRam, false);
    assert.ok(resolveWorkers('auto', 'wasm', 8, fit) <= fit);
    assert.equal(resolveWorkers(3, 'wasm', 8, 1), 3, 'a number is taken as given (check reports it)');
  });

  test('nf4 placement: a 7B-shaped base streams its linears from the host and fits; a small one stays resident', () => {
    const qlora: TrainingShape = { ...LORA, gradientCheckpointing: true, quantization: 'nf4', doubleQuant: true };
    const seven = estimateMemory(LLAMA2_7B, qlora, { ...WASM, ramBytes: 24 * GiB });
    assert.equal(seven.placement, 'streamed');
    assert.equal(seven.fitsHeap && seven.fitsRam, true, `heap ${seven.perWorker}, process ${seven.total}`);
    assert.ok(seven.residentPerWorker > WASM_HEAP_BYTES, 'resident, its 4-bit linears alone are ~3.6 GiB: past the heap with the rest');
    const linears = baseParameterGroups(LLAMA2_7B).linears;
    assert.ok(seven.hostWeights >= linears * (0.5 + 4 / 64), 'the host holds the codes and a float32 absmax per block');
    assert.ok(seven.total >= seven.perWorker + seven.hostWeights, 'the process counts the host copy');
    assert.ok(seven.perWorker < seven.residentPerWorker - linears * 0.5, 'the heap no longer holds the linears');
    const tiny = estimateMemory(REFERENCE, qlora, WASM);
    assert.equal(tiny.placement, 'resident');
    assert.equal(tiny.hostWeights, 0);
    assert.equal(tiny.residentPerWorker, tiny.perWorker);
    // Without a heap limit (tfjs-node) nothing streams; without nf4 nothing streams and a 7B base does not fit.
    assert.equal(estimateMemory(LLAMA2_7B, qlora, { ...WASM, heapBytesPerWorker: undefined }).placement, 'resident');
    const bf16 = estimateMemory(LLAMA2_7B, { ...qlora, quantization: 'none' }, WASM);
    assert.equal(bf16.placement, 'resident');
    assert.equal(bf16.fitsHeap, false);
  });

  test('nf4 placement stays resident when streaming would not fit either (E_MEMORY_PLAN reports the resident figure)', () => {
    const huge = estimateMemory(LLAMA2_7B, { ...LORA, maxLength: 16384, quantization: 'nf4' }, WASM);
    assert.equal(huge.fitsHeap, false);
    assert.equal(huge.placement, 'resident');
  });
});
