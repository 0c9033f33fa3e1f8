import assert from 'node:assert/strict';
import { test } from 'node:test';
import { memoryAlternatives, plannedBackend, planTrainerMemory, type MemoryHost, type TrainerMemoryKeys } from '../../src/compiler/memory-plan.js';
import { parseLlamaConfig } from '../../src/model-spec/config.js';

/** TinyLlama-1.1B's config.json numbers (hidden 2048, 22 layers, 32 heads, 4 kv heads, FFN 5632, vocab 32000). */
const TINYLLAMA = parseLlamaConfig({
  architectures: ['LlamaForCausalLM'], hidden_size: 2048, intermediate_size: 5632, num_hidden_layers: 22, num_attention_heads: 32,
  num_key_value_heads: 4, vocab_size: 32000, max_position_embeddings: 2048, bos_token_id: 1, eos_token_id: 2,
}, 'config.json');
/** Llama-2-7B's (hidden 4096, 32 layers, 32 heads and kv heads, FFN 11008, vocab 32000, float16). */
const LLAMA2_7B = parseLlamaConfig({
  architectures: ['LlamaForCausalLM'], hidden_size: 4096, intermediate_size: 11008, num_hidden_layers: 32, num_attention_heads: 32,
  num_key_value_heads: 32, vocab_size: 32000, max_position_embeddings: 4096, torch_dtype: 'float16', bos_token_id: 1, eos_token_id: 2,
}, 'config.json');
const QWEN_05B = parseLlamaConfig({
  architectures: ['Qwen2ForCausalLM'], hidden_size: 896, intermediate_size: 4864, num_hidden_layers: 24, num_attention_heads: 14,
  num_key_value_heads: 2, vocab_size: 151936, tie_word_embeddings: true, max_position_embeddings: 32768, bos_token_id: 151643, eos_token_id: 151643,
}, 'config.json');

const KEYS: TrainerMemoryKeys = {
  batch_size: 8, max_length: 512, r: 8, target_modules: ['q_proj', 'v_proj'], dropout: 0, bias: 'none', workers: 1, backend: 'wasm',
};
const GiB = 2 ** 30;
const host = (ramGiB: number, installed: string[] = ['@tensorflow/tfjs-backend-wasm']): MemoryHost => ({ ramBytes: ramGiB * GiB, cores: 8, installed: (p) => installed.includes(p) });

test('auto takes the first installed backend in the runtime order', () => {
  assert.equal(plannedBackend('auto', host(16, ['@tensorflow/tfjs-node', '@tensorflow/tfjs-backend-wasm'])), 'tensorflow');
  assert.equal(plannedBackend('auto', host(16)), 'wasm');
  assert.equal(plannedBackend('auto', host(16, [])), 'cpu');
  assert.equal(plannedBackend('cpu', host(16)), 'cpu');
});

test('Qwen2.5-0.5B at batch 2, length 128: the longest max_length offered fits and 64 more does not; each alternative fits', () => {
  const keys = { ...KEYS, batch_size: 2, max_length: 128 };
  const plan = planTrainerMemory(QWEN_05B, keys, host(64))!;
  assert.equal(plan.fits, false);
  assert.equal(plan.estimate.fitsHeap, false);
  const alternatives = memoryAlternatives(QWEN_05B, plan);
  const length = alternatives.find((a) => a.change.startsWith('max_length = '));
  assert.ok(length, alternatives.map((a) => a.change).join('; '));
  const n = Number(length.change.slice('max_length = '.length));
  assert.equal(n % 64, 0);
  assert.equal(planTrainerMemory(QWEN_05B, { ...keys, max_length: n }, host(64))!.fits, true);
  assert.equal(planTrainerMemory(QWEN_05B, { ...keys, max_length: n + 64 }, host(64))!.fits, false);
  // The others, applied as a user would write them.
  const applied: Record<string, Partial<TrainerMemoryKeys>> = {
    'batch_size = 1': { batch_size: 1 }, 'gradient_checkpointing = true': { gradient_checkpointing: true }, 'quantization = nf4': { quantization: 'nf4' },
  };
  assert.deepEqual(alternatives.map((a) => a.change).slice(1), ['batch_size = 1', 'gradient_checkpointing = true', 'quantization = nf4']);
  for (const a of alternatives.filter((x) => x !== length)) {
    assert.equal(planTrainerMemory(QWEN_05B, { ...keys, ...applied[a.change] }, host(64))!.fits, true, a.change);
  }
  // Twice the rows is past every single change but checkpointing (activations, not weights, are what is over).
  const wider = planTrainerMemory(QWEN_05B, { ...keys, batch_size: 4 }, host(64))!;
  assert.deepEqual(memoryAlternatives(QWEN_05B, wider).map((a) => a.change), ['batch_size = 1', 'gradient_checkpointing = true']);
});

test('TinyLlama on wasm at 4096: float32 weights and linear activations are past the heap; nf4 with the rest fits up to a computed max_length', () => {
  const plan = planTrainerMemory(TINYLLAMA, { ...KEYS, max_length: 4096 }, host(64))!;
  assert.equal(plan.fits, false);
  const [together, ...rest] = memoryAlternatives(TINYLLAMA, plan);
  assert.deepEqual(rest, []);
  const m = /^batch_size = 1, gradient_checkpointing = true, quantization = nf4 and max_length = (\d+)$/.exec(together!.change);
  assert.ok(m, together!.change);
  assert.equal(together!.note, undefined, 'ftc run trains nf4 itself: no pointer to another target');
  const fitted = { ...KEYS, batch_size: 1, gradient_checkpointing: true, quantization: 'nf4' };
  assert.equal(planTrainerMemory(TINYLLAMA, { ...fitted, max_length: Number(m[1]) }, host(64))!.fits, true);
  assert.equal(planTrainerMemory(TINYLLAMA, { ...fitted, max_length: Number(m[1]) + 64 }, host(64))!.fits, false);
});

test('Llama-2-7B on wasm: nf4 at batch 1 with checkpointing fits by streaming its 4-bit linears (resident they are past the heap); batch 4 does not', () => {
  const fitted = { ...KEYS, batch_size: 1, gradient_checkpointing: true, quantization: 'nf4', double_quant: true };
  const plan = planTrainerMemory(LLAMA2_7B, fitted, host(24))!;
  assert.equal(plan.fits, true);
  assert.equal(plan.estimate.placement, 'streamed');
  assert.ok(plan.estimate.residentPerWorker > plan.target.heapBytesPerWorker!, 'resident, the heap would not hold it');
  assert.ok(plan.estimate.perWorker <= plan.target.heapBytesPerWorker!);
  assert.ok(plan.estimate.hostWeights > 3 * GiB, `the host holds the 4-bit linears: ${plan.estimate.hostWeights}`);
  assert.equal(planTrainerMemory(LLAMA2_7B, { ...fitted, batch_size: 4 }, host(24))!.fits, false);
});

test('TinyLlama on a backend without a heap limit: RAM decides, and workers = auto never picks more than fit', () => {
  const native = { ...KEYS, backend: 'cpu', batch_size: 8, gradient_checkpointing: true, workers: 'auto' as const };
  const roomy = planTrainerMemory(TINYLLAMA, native, host(256))!;
  assert.equal(roomy.fits, true);
  assert.equal(roomy.shape.workers, 8, 'every core, when all fit');
  const tight = planTrainerMemory(TINYLLAMA, native, host(32))!;
  assert.ok(tight.shape.workers >= 1 && tight.shape.workers < 8, `workers ${tight.shape.workers}`);
  assert.equal(tight.fits, true);
  assert.equal(planTrainerMemory(TINYLLAMA, { ...native, workers: tight.shape.workers + 1 }, host(32))!.fits, false);
  // Too small for one worker: an explicit number is taken as given, and is what the error is about.
  const small = planTrainerMemory(TINYLLAMA, { ...native, workers: 8 }, host(32))!;
  assert.equal(small.fits, false);
  assert.ok(memoryAlternatives(TINYLLAMA, small).some((a) => a.change === 'workers = 1'));
});
