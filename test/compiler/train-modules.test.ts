import assert from 'node:assert/strict';
import { test } from 'node:test';
import { compile } from '../../src/compiler/index.js';
import { checkForAccelerate } from '../../src/compiler/targets/accelerate/index.js';

/** `trainer { model = <model stage> }` is full fine-tuning; `train_modules` picks its weights. */
const FULL = `pipeline p {
  seed = 7
}
data raw {
  source = "d.json"
}
preprocess prompts {
  input    = raw
  prompt   = "{q}"
  response = "{a}"
}
tokenizer tok {
  input = prompts
  train = { vocab_size = 512 }
}
model base {
  path = "m"
}
trainer sft {
  model  = base
  data   = tok
  output = "out"
}
`;

const check = (text: string) => compile(text, '/x/p.ft', { checkFiles: false }).diagnostics;
const withKey = (line: string, text = FULL) => text.replace('  output = "out"', `  output = "out"\n  ${line}`);

test('a trainer on a model stage (full fine-tuning) compiles, with or without train_modules', () => {
  assert.deepEqual(check(FULL), []);
  const r = compile(withKey('train_modules = [q_proj, v_proj, embed_tokens, lm_head, norm, input_layernorm]'), '/x/p.ft', { checkFiles: false });
  assert.deepEqual(r.diagnostics, []);
  assert.deepEqual(r.ir!.stages.find((s) => s.name === 'sft')!.params.train_modules, ['q_proj', 'v_proj', 'embed_tokens', 'lm_head', 'norm', 'input_layernorm']);
});

test('an unknown module in train_modules is an error at the item, with the known names and a suggestion', () => {
  const ds = check(withKey('train_modules = [q_proj, lm_hed]'));
  assert.deepEqual(ds.map((d) => [d.code, d.line, d.column, d.endColumn, d.message]), [[
    'E0105', 23, 28, 34,
    "trainer 'sft': train_modules[1] must be one of q_proj, k_proj, v_proj, o_proj, gate_proj, up_proj, down_proj, input_layernorm, post_attention_layernorm, norm, embed_tokens, lm_head (got lm_hed). Did you mean `lm_head`?",
  ]]);
  assert.equal(check(withKey('train_modules = []'))[0]?.code, 'E0104', 'an empty list selects nothing');
});

test('train_modules on a trainer whose model is a lora stage is E_TRAIN_MODULES at the key', () => {
  const lora = withKey('train_modules = [q_proj]', FULL.replace('  model  = base', '  model  = adapter')) + 'lora adapter {\n  model = base\n}\n';
  const ds = check(lora);
  assert.deepEqual(ds.map((d) => [d.code, d.line, d.column]), [['E_TRAIN_MODULES', 23, 19]]);
  assert.match(ds[0]!.message, /train_modules applies to full fine-tuning, but model = adapter is a lora stage.*set model = base/);
});

test('--target accelerate refuses full fine-tuning at the trainer\'s model, and train_modules at its key', () => {
  const r = compile(withKey('train_modules = [q_proj]'), '/x/p.ft', { checkFiles: false });
  const ds = checkForAccelerate(r.ir!, { ast: r.ast, pipelineFile: 'p.ft', hasEval: false }).diagnostics.filter((d) => d.severity === 'error');
  assert.deepEqual(ds.map((d) => [d.code, d.line]).sort(), [['E0401', 23], ['E0402', 20]]);
  assert.match(ds.find((d) => d.code === 'E0402')!.message, /model = base is a model stage; the job trains a LoRA adapter/);
  assert.match(ds.find((d) => d.code === 'E0401')!.message, /train_modules.*the accelerate job trains a LoRA adapter; train the full model with `ftc run`/);
});
