/**
 * ftc loads what transformers 5.24 and PEFT 0.21 save: random-init Llama and Qwen2 models written by
 * save_pretrained (f32 and bf16, single file and sharded, tied and untied embeddings, a non-default
 * rope_theta, which transformers 5 writes as `rope_parameters`), and a LoRA adapter with biases trained a few
 * steps by PEFT. ftc's logits (the forward `ftc score` runs) equal PyTorch's within 1e-4. One Python process.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { tempDir } from '../helpers.js';
import { requirePython, runPython } from './env.js';
import { assertLogitsClose, ftcLogits } from './logits.js';

const TOL = 1e-4;
/**
 * bf16 checkpoints: ftc widens bf16 weights to f32 exactly, so against PyTorch on the same weights widened to f32
 * the tolerance stays 1e-4. Against PyTorch computing in bf16 itself (8 mantissa bits, rounding after every op)
 * the stated tolerance is 10% of the largest |logit| (measured: about 5% on these models).
 */
const BF16_NATIVE_REL = 0.1;

interface Saved { config: Record<string, unknown>; files: string[]; logits: number[][]; logits_native?: number[][] }

const MODELS = [
  { name: 'llama f32 untied', arch: 'llama', dtype: 'float32', tie: false, shard: false, seed: 1 },
  { name: 'llama f32 tied sharded', arch: 'llama', dtype: 'float32', tie: true, shard: true, seed: 2 },
  { name: 'llama bf16 untied sharded', arch: 'llama', dtype: 'bfloat16', tie: false, shard: true, seed: 3 },
  { name: 'qwen2 f32 untied', arch: 'qwen2', dtype: 'float32', tie: false, shard: false, seed: 4 },
  { name: 'qwen2 bf16 tied', arch: 'qwen2', dtype: 'bfloat16', tie: true, shard: false, seed: 5 },
  { name: 'llama rope_theta 500000', arch: 'llama', dtype: 'float32', tie: false, shard: false, seed: 6, rope_theta: 500000 },
] as const;

// Ids over the whole vocabulary (320); the longest reaches position 40, where rope_theta shows.
const IDS = [
  [1, 17, 250, 3, 99, 140, 7, 318, 64, 12],
  [1, 200, 201, 202, 5, 6, 7, 8],
  Array.from({ length: 40 }, (_, i) => (i * 37 + 11) % 320),
];

interface SaveResult { models: Record<string, Saved>; adapter: { keys: string[]; logits: number[][]; base_logits: number[][] } }
let saved: (SaveResult & { root: string }) | undefined;

/** One Python run writes every model and the adapter; the tests below share it. */
function save(python: string): SaveResult & { root: string } {
  if (saved) return saved;
  const root = tempDir('ftc-interop-hf-save-');
  const out = runPython<SaveResult>(python, 'hf_save.py', {
    ids: IDS,
    models: MODELS.map((m) => ({ ...m, dir: join(root, m.name.replace(/ /g, '-')) })),
    adapter: {
      base_dir: join(root, 'qwen2-f32-untied'), dir: join(root, 'peft-adapter'), steps: 4, lr: 2e-2,
      lora: { r: 4, lora_alpha: 8, lora_dropout: 0, target_modules: ['q_proj', 'v_proj', 'down_proj'], bias: 'all' },
    },
  });
  saved = { root, ...out };
  return saved;
}

const dirOf = (root: string, name: string) => join(root, name.replace(/ /g, '-'));

for (const m of MODELS) {
  test(`ftc loads a ${m.name} model saved by transformers: logits equal PyTorch's`, async (t) => {
    const python = requirePython(t);
    if (!python) return;
    const { root, models } = save(python);
    const r = models[m.name]!;
    const dir = dirOf(root, m.name);
    if (m.shard) assert.ok(r.files.includes('model.safetensors.index.json'), `sharded: ${r.files}`);
    else assert.ok(r.files.includes('model.safetensors'), `single file: ${r.files}`);
    if (m.tie) assert.equal(r.config.tie_word_embeddings, true);
    if ('rope_theta' in m) {
      // What transformers 5 writes: no top-level rope_theta, a rope_parameters object instead.
      assert.deepEqual((r.config.rope_parameters as Record<string, unknown>).rope_theta, m.rope_theta);
    }
    const ftc = await ftcLogits(dir, IDS);
    assertLogitsClose(ftc, r.logits, TOL, m.name);
    if (r.logits_native) {
      const scale = Math.max(...r.logits_native.flat().map(Math.abs));
      assertLogitsClose(ftc, r.logits_native, BF16_NATIVE_REL * scale, `${m.name} against PyTorch computing in bf16`);
    }
  });
}

test('ftc loads an adapter trained and saved by PEFT (bias = all): logits equal PEFT\'s', async (t) => {
  const python = requirePython(t);
  if (!python) return;
  const { root, adapter } = save(python);
  const dir = join(root, 'peft-adapter');
  assert.ok(existsSync(join(dir, 'adapter_config.json')));
  // PEFT's names for trained biases: base_layer.bias on adapted modules, the plain name on k_proj (not adapted).
  assert.ok(adapter.keys.includes('base_model.model.model.layers.0.self_attn.q_proj.base_layer.bias'), adapter.keys.join('\n'));
  assert.ok(adapter.keys.includes('base_model.model.model.layers.0.self_attn.k_proj.bias'), adapter.keys.join('\n'));
  const base = dirOf(root, 'qwen2 f32 untied');
  const ftc = await ftcLogits(base, IDS, dir);
  assertLogitsClose(ftc, adapter.logits, TOL, 'PEFT adapter');
  // The training moved the model: a loader that dropped the adapter or its biases could not pass.
  const moved = Math.max(...adapter.logits.flatMap((a, s) => a.map((v, i) => Math.abs(v - adapter.base_logits[s]![i]!))));
  assert.ok(moved > 100 * TOL, `PEFT's training moved the logits by only ${moved}`);
});
