import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { compile } from '../../src/compiler/index.js';
import { isFtcError } from '../../src/errors.js';
import { pipelinePromptFormat } from '../../src/cli/prompt-template.js';
import { runCli, tempDir } from '../helpers.js';

function pipeline(preprocess: string, tokenizer = ''): string {
  return `pipeline p {
  seed = 1
}
data raw {
  source = "d.jsonl"
}
preprocess pp {
  input = raw
  ${preprocess}
}
tokenizer tok {
  input = pp
  vocab = "model/tokenizer.json"
  ${tokenizer}
}
model base {
  path = "model"
}
lora ad {
  model = base
}
trainer sft {
  model  = ad
  data   = tok
  output = "out"
}
`;
}

function formatOf(text: string, dir = '/tmp') {
  const r = compile(text, join(dir, 'p.ft'), { checkFiles: false });
  assert.ok(r.ir, JSON.stringify(r.diagnostics));
  return pipelinePromptFormat(r.ir);
}

test('alpaca: the text is the instruction of the no-input Alpaca prompt', () => {
  const f = formatOf(pipeline('template = alpaca'))!;
  assert.equal(f.format('Name a colour.', {}),
    'Below is an instruction that describes a task. Write a response that appropriately completes the request.\n\n### Instruction:\nName a colour.\n\n### Response:\n');
  assert.match(f.format('Translate.', { input: 'chat' }), /### Instruction:\nTranslate\.\n\n### Input:\nchat\n\n### Response:\n$/);
  assert.equal(f.addBos, true);
});

test('a custom template: the text fills the first field, --field fills others by name, the rest are empty', () => {
  const f = formatOf(pipeline('prompt = "{instruction}\\n{input}"\n  response = "{output}"', 'add_bos = false'))!;
  assert.equal(f.format('Give three tips', {}), 'Give three tips\n');
  assert.equal(f.format('Give three tips', { input: 'for sleep' }), 'Give three tips\nfor sleep');
  assert.equal(f.format('ctx first', { instruction: 'Summarise' }), 'Summarise\nctx first', 'the first field not given gets the text');
  assert.equal(f.addBos, false);
  assert.match(f.describe, /prompt template of preprocess `pp`/);
  assert.throws(() => f.format('x', { question: 'y' }), (e: unknown) => isFtcError(e) && e.code === 'E_USAGE' && /no field question/.test(e.message) && /instruction, input/.test(e.hint ?? ''));
});

test('chat: one user message through the pipeline\'s chat template with the generation prompt', () => {
  const dir = tempDir();
  writeFileSync(join(dir, 'tokenizer_config.json'), JSON.stringify({
    chat_template: '{% for m in messages %}<|{{ m.role }}|>{{ m.content }}\n{% endfor %}{% if add_generation_prompt %}<|assistant|>{% endif %}',
    eos_token: '</s>',
  }));
  const f = formatOf(pipeline('template = chat\n  chat_template = "tokenizer_config.json"'), dir)!;
  assert.equal(f.format('What colour is the sky?', {}), '<|user|>What colour is the sky?\n<|assistant|>');
});

test('ftc generate FILE formats the prompt by default and says so; --raw does not', () => {
  const dir = tempDir();
  const r = runCli(['init-model', join(dir, 'model'), '--layers', '1', '--hidden', '32', '--heads', '4', '--kv-heads', '2', '--ffn', '48', '--vocab', '300']);
  assert.equal(r.status, 0, r.stderr);
  writeFileSync(join(dir, 'p.ft'), pipeline('template = alpaca'));
  const base = ['generate', join(dir, 'p.ft'), '--prompt', 'Give three tips', '--max-new-tokens', '4', '--backend', 'cpu'];
  const templated = runCli(base);
  assert.equal(templated.status, 0, templated.stderr);
  assert.match(templated.stderr, /prompt formatted with the Alpaca prompt of preprocess `pp` \(--raw sends the text as it is\)/);
  const raw = runCli([...base, '--raw']);
  assert.equal(raw.status, 0, raw.stderr);
  assert.doesNotMatch(raw.stderr, /prompt formatted/);
  const stray = runCli([...base, '--raw', '--field', 'input=x']);
  assert.equal(stray.status, 1, stray.stderr);
  assert.match(stray.stderr, /--field fills a field of a pipeline's prompt template/);
});

test('the formatted, encoded prompt is token for token the prompt part of what the tokenizer stage trained on', async () => {
  const dir = tempDir();
  // Every record asks the same instruction, so every training example starts with the same prompt ids.
  const rows = ['red', 'blue', 'green', 'white'].map((c) => ({ instruction: 'Name a colour.', input: '', output: `It is ${c}.` }));
  writeFileSync(join(dir, 'd.jsonl'), rows.map((r) => JSON.stringify(r)).join('\n') + '\n');
  const init = runCli(['init-model', join(dir, 'model'), '--layers', '1', '--hidden', '32', '--heads', '4', '--kv-heads', '2', '--ffn', '48', '--vocab', '300',
    '--corpus', join(dir, 'd.jsonl')]);
  assert.equal(init.status, 0, init.stderr);
  const file = join(dir, 'p.ft');
  writeFileSync(file, pipeline('template = alpaca').replace('  output = "out"\n', '  output = "out"\n  max_steps = 1\n'));
  const { compileFile } = await import('../../src/compiler/index.js');
  const { planPipeline } = await import('../../src/compiler/plan.js');
  const { ArtifactCache } = await import('../../src/runtime/cache.js');
  const { execute } = await import('../../src/runtime/executor.js');
  const { readTokenDataset } = await import('../../src/runtime/tokenize/dataset.js');
  const { loadTokenizerFile } = await import('../../src/runtime/tokenize/load.js');
  const { encodePrompt } = await import('../../src/cli/prompt-template.js');
  const { ir } = compileFile(file);
  assert.ok(ir);
  const quiet = { info: () => {}, warn: () => {}, progress: () => ({ update: () => {}, done: () => {} }) };
  const result = await execute(await planPipeline(ir), ir, { cache: new ArtifactCache(join(dir, 'cache')), report: () => {}, logger: () => quiet, backend: 'cpu', workers: 1 });
  const example = readTokenDataset(result.stages.find((s) => s.name === 'tok')!.dir).split('train').example(0);
  const promptLength = example.labels.findIndex((l) => l !== -100);
  assert.ok(promptLength > 10, `prompt length ${promptLength}`);
  const trained = [...example.ids.subarray(0, promptLength)];

  const loaded = loadTokenizerFile(join(dir, 'model', 'tokenizer.json'), 'tokenizer.json');
  const f = pipelinePromptFormat(ir)!;
  const ids = await encodePrompt(loaded.tokenizer, f.format('Name a colour.', {}), loaded.specials.bos);
  assert.deepEqual(ids, trained);
  assert.equal(ids[0], loaded.specials.bos!.id, 'BOS first, as in training');
});
