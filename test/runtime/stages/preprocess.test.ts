import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Artifact } from '../../../src/runtime/stage.js';
import { preprocessStage } from '../../../src/runtime/stages/preprocess.js';
import { FtcError } from '../../../src/errors.js';
import { mulberry32 } from '../../../src/runtime/random.js';
import { tempDir } from '../../helpers.js';
import { readJsonlFile, runStage } from './stage-context.js';

function dataArtifact(records: unknown[], name = 'raw'): Artifact {
  const dir = tempDir();
  writeFileSync(join(dir, 'records.jsonl'), records.map((r) => JSON.stringify(r) + '\n').join(''));
  return { stage: name, kind: 'data', key: 'k', dir, summary: {} };
}

function splits(a: Artifact) {
  return { train: readJsonlFile(join(a.dir, 'train.jsonl')), eval: readJsonlFile(join(a.dir, 'eval.jsonl')) };
}

test('custom templates: {field} placeholders, {{ }} literal braces, null as empty, numbers as text', async () => {
  const raw = dataArtifact([{ q: 'two plus two', n: 4, extra: null }]);
  const { summary, artifact } = await runStage(
    preprocessStage,
    'prompts',
    { input: 'raw', prompt: 'Q: {q} {{literal}}{extra}', response: '{n}', shuffle: false },
    { inputs: [raw] },
  );
  assert.deepEqual(summary, { rows: 1, eval_rows: 0, dropped: 0 });
  assert.deepEqual(splits(artifact).train, [{ prompt: 'Q: two plus two {literal}', response: '4' }]);
});

test('a missing field is an FtcError naming the record and the field, with a suggestion', async () => {
  const raw = dataArtifact([{ instruction: 'a', output: 'b' }, { instruction: 'c', outptu: 'd' }]);
  await assert.rejects(runStage(preprocessStage, 'p', { input: 'raw', prompt: '{instruction}', response: '{output}' }, { inputs: [raw] }), (e: unknown) => {
    assert.ok(e instanceof FtcError);
    assert.equal(e.code, 'E_TEMPLATE_FIELD_MISSING');
    assert.match(e.message, /^record 2 of `raw`: the response template uses \{output\}, but the record has no field "output" \(it has instruction, outptu\)/);
    assert.equal(e.hint, 'did you mean {outptu}?');
    return true;
  });
  await assert.rejects(runStage(preprocessStage, 'p', { input: 'raw', prompt: '{instruction', response: '{output}' }, { inputs: [raw] }), /does not open a \{field\} placeholder/);
});

test('alpaca template: the Stanford prompt with and without input', async () => {
  const raw = dataArtifact([
    { instruction: 'Name a color.', input: '', output: 'Blue.' },
    { instruction: 'Add the numbers.', input: '2 and 3', output: '5' },
  ]);
  const { artifact } = await runStage(preprocessStage, 'p', { input: 'raw', template: 'alpaca', shuffle: false }, { inputs: [raw] });
  assert.deepEqual(splits(artifact).train, [
    {
      prompt:
        'Below is an instruction that describes a task. Write a response that appropriately completes the request.\n\n### Instruction:\nName a color.\n\n### Response:\n',
      response: 'Blue.',
    },
    {
      prompt:
        'Below is an instruction that describes a task, paired with an input that provides further context. Write a response that appropriately completes the request.\n\n### Instruction:\nAdd the numbers.\n\n### Input:\n2 and 3\n\n### Response:\n',
      response: '5',
    },
  ]);
});

test('chat: messages rendered through a Jinja chat_template; prompt ends with the generation prompt', async () => {
  const dir = tempDir();
  mkdirSync(join(dir, 'tok'));
  // A ChatML template as chat models ship it, with the bos_token variable and a loop over messages.
  const chatml =
    "{{ bos_token }}{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}{% endfor %}" +
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";
  writeFileSync(join(dir, 'tok/tokenizer_config.json'), JSON.stringify({ chat_template: chatml, bos_token: { content: '<s>' }, eos_token: '</s>' }));
  const raw = dataArtifact([
    {
      conv: [
        { role: 'system', content: 'Be brief.' },
        { role: 'user', content: 'Hi' },
        { role: 'assistant', content: 'Hello!' },
        { role: 'user', content: 'Bye' },
        { role: 'assistant', content: 'Goodbye.' },
      ],
    },
  ]);
  const { artifact } = await runStage(
    preprocessStage,
    'p',
    { input: 'raw', template: 'chat', chat_template: 'tok/tokenizer_config.json', messages_field: 'conv' },
    { inputs: [raw], pipelineDir: dir },
  );
  // Every assistant turn is trained: the prompt ends where the first one starts; turns are spans of prompt + response.
  const prompt = '<s><|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n';
  const first = 'Hello!<|im_end|>\n';
  const between = '<|im_start|>user\nBye<|im_end|>\n<|im_start|>assistant\n';
  const second = 'Goodbye.<|im_end|>\n';
  const at = prompt.length + first.length + between.length;
  assert.deepEqual(splits(artifact).train, [
    { prompt, response: first + between + second, turns: [[prompt.length, prompt.length + first.length], [at, at + second.length]] },
  ]);
  const last = await runStage(
    preprocessStage,
    'p',
    { input: 'raw', template: 'chat', chat_template: 'tok/tokenizer_config.json', messages_field: 'conv', train_on: 'last_turn' },
    { inputs: [raw], pipelineDir: dir },
  );
  assert.deepEqual(splits(last.artifact).train, [{ prompt: prompt + first + between, response: second, turns: [[at, at + second.length]] }]);
  // A template that looks ahead (here: numbers the turns left) renders a prefix unlike the whole.
  writeFileSync(join(dir, 'tok/ahead.json'), JSON.stringify({ chat_template: "{% for m in messages %}{{ messages|length - loop.index }}{{ m['content'] }}{% endfor %}" }));
  await assert.rejects(
    runStage(preprocessStage, 'p', { input: 'raw', template: 'chat', chat_template: 'tok/ahead.json', messages_field: 'conv' }, { inputs: [raw], pipelineDir: dir }),
    (e: unknown) => e instanceof FtcError && /assistant turn 1 \(message 3\) differently/.test(e.message) && /train_on = last_turn/.test(e.hint ?? ''),
  );
  const noAssistant = dataArtifact([{ messages: [{ role: 'user', content: 'Hi' }] }]);
  await assert.rejects(
    runStage(preprocessStage, 'p', { input: 'raw', template: 'chat', chat_template: 'tok/tokenizer_config.json' }, { inputs: [noAssistant], pipelineDir: dir }),
    /record 1 of `raw`: the conversation has no assistant message/,
  );
});

test('filters: length bounds in characters and exact duplicates are dropped and counted', async () => {
  const raw = dataArtifact([
    { p: 'a', r: 'b' }, // 2 chars: too short
    { p: 'abc', r: 'def' },
    { p: 'abc', r: 'def' }, // duplicate
    { p: 'abcd', r: 'ef' }, // same text joined, different pair: kept
    { p: 'abcdefgh', r: 'ijk' }, // 11 chars: too long
  ]);
  const { summary, artifact } = await runStage(
    preprocessStage,
    'p',
    { input: 'raw', prompt: '{p}', response: '{r}', min_length: 3, max_length: 10, dedupe: true, shuffle: false },
    { inputs: [raw] },
  );
  assert.deepEqual(summary, { rows: 2, eval_rows: 0, dropped: 3 });
  assert.deepEqual(splits(artifact).train, [{ prompt: 'abc', response: 'def' }, { prompt: 'abcd', response: 'ef' }]);
});

test('mulberry32 matches its reference sequence', () => {
  // First outputs of the reference C implementation of mulberry32 for seed 0, as 32-bit integers.
  const next = mulberry32(0);
  const ints = [next(), next(), next()].map((x) => Math.round(x * 4294967296));
  assert.deepEqual(ints, [1144304738, 1416247, 958946056]);
});

test('shuffle and split are deterministic for a seed, differ across seeds, and partition the data', async () => {
  const records = Array.from({ length: 100 }, (_, i) => ({ p: `q${i}`, r: `a${i}` }));
  const params = { input: 'raw', prompt: '{p}', response: '{r}', eval_split: 0.1, shuffle: true };
  const a = splits((await runStage(preprocessStage, 'p', { ...params, seed: 7 }, { inputs: [dataArtifact(records)] })).artifact);
  const b = splits((await runStage(preprocessStage, 'p', { ...params, seed: 7 }, { inputs: [dataArtifact(records)] })).artifact);
  const c = splits((await runStage(preprocessStage, 'p', params, { inputs: [dataArtifact(records)], seed: 8 })).artifact);
  assert.deepEqual(a, b);
  assert.notDeepEqual(a.train, c.train);
  assert.equal(a.eval.length, 10);
  assert.equal(a.train.length, 90);
  const all = [...a.train, ...a.eval].map((x) => (x as { prompt: string }).prompt).sort();
  assert.deepEqual(all, records.map((r) => r.p).sort());
  assert.notDeepEqual(a.train.slice(0, 10), records.slice(0, 10).map((r) => ({ prompt: r.p, response: r.r })));
  // ceil: 0.05 of 21 examples holds out 2
  const small = await runStage(preprocessStage, 'p', { ...params, eval_split: 0.05 }, { inputs: [dataArtifact(records.slice(0, 21))] });
  assert.equal(small.summary.eval_rows, 2);
  await assert.rejects(runStage(preprocessStage, 'p', { ...params, eval_split: 0.5 }, { inputs: [dataArtifact(records.slice(0, 1))] }), /leaves none for training/);
});

test('a preprocess stage can read another preprocess stage (train then eval records)', async () => {
  const first = await runStage(preprocessStage, 'first', { input: 'raw', prompt: '{p}', response: '{r}', shuffle: false, eval_split: 0.5 }, { inputs: [dataArtifact([{ p: 'x', r: '1' }, { p: 'y', r: '22' }])] });
  const second = await runStage(preprocessStage, 'second', { input: 'first', prompt: '> {prompt}', response: '{response}', shuffle: false, min_length: 5 }, { inputs: [first.artifact] });
  assert.deepEqual(splits(second.artifact).train, [{ prompt: '> y', response: '22' }]);
});
