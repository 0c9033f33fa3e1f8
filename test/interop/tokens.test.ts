/**
 * The same tokens: ftc's tokenizer stage stores exactly the ids and label masks that transformers'
 * AutoTokenizer gives on the same tokenizer files, asked as interop/py/tokens_expected.py says
 * (prompt + response + eos_token joined, as Stanford Alpaca's train.py does, masked by offsets;
 * conversations through apply_chat_template). Two tokenizers: the byte-level BPE of `ftc init-model`
 * and a Llama-style SentencePiece BPE with byte_fallback built by the tokenizers library.
 */
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import type { JsonValue } from '../../src/compiler/ir.js';
import { INIT_MODEL_DEFAULTS, initModel, readCorpusTexts } from '../../src/runtime/model/init.js';
import type { Artifact } from '../../src/runtime/stage.js';
import { dataStage } from '../../src/runtime/stages/data.js';
import { preprocessStage } from '../../src/runtime/stages/preprocess.js';
import { tokenizerStage } from '../../src/runtime/stages/tokenizer.js';
import { IGNORE_INDEX } from '../../src/model-spec/labels.js';
import { readTokenDataset } from '../../src/runtime/tokenize/dataset.js';
import { repoRoot, tempDir } from '../helpers.js';
import { readJsonlFile, runStage } from '../runtime/stages/stage-context.js';
import { requirePython, runPython } from './env.js';

const LONG = Array.from({ length: 60 }, (_, i) => `word${i}`).join(' ');
/** Rows where a boundary rule would show: empty input, leading spaces, non-ASCII, digits and punctuation first, long rows. */
const TRICKY = [
  { instruction: 'Name a color.', input: '', output: 'Blue.' },
  { instruction: '  Indent this line.', input: '   x = 1', output: '    x = 1' },
  { instruction: 'Traduis «bonjour» en 日本語.', input: 'ça va?', output: 'こんにちは 😀 — ça va très bien.' },
  { instruction: 'Give a number.', input: '', output: '42 is the answer.' },
  { instruction: 'Hesitate.', input: '', output: '...well, maybe.' },
  { instruction: 'Quote it', input: 'hello', output: '"Hello," she said.' },
  { instruction: 'Continue.\n', input: '', output: '\nNew line first.' },
  { instruction: `Summarize: ${LONG}`, input: LONG, output: `Summary: ${LONG}` },
];

/** Conversations with several assistant turns, non-ASCII, punctuation first, and a trailing user turn. */
const TRICKY_CHATS = [
  [['system', 'Réponds en français.'], ['user', 'Bonjour ?'], ['assistant', '« Bonjour ! » 😀'], ['user', 'Ça va ?'], ['assistant', '...oui, très bien.'], ['user', '3 + 4 ?'], ['assistant', '7.']],
  [['user', ' leading space'], ['assistant', ' and back'], ['user', 'no reply needed']],
  [['user', 'Count.'], ['assistant', '1, 2, 3'], ['user', 'More.'], ['assistant', LONG]],
].map((turns) => ({ messages: turns.map(([role, content]) => ({ role, content })) }));

async function stage(impl: typeof dataStage, name: string, params: { [k: string]: JsonValue }, dir: string, inputs: Artifact[] = []): Promise<Artifact> {
  return (await runStage(impl, name, params, { inputs, pipelineDir: dir })).artifact;
}

test('interop: ftc stores the ids and labels that transformers AutoTokenizer gives (example data, chat example, tricky rows; byte-level BPE and SentencePiece)', async (t) => {
  const python = requirePython(t);
  if (!python) return;
  const root = repoRoot();
  const dir = tempDir('ftc-tokens-');
  const alpaca = join(root, 'data', 'alpaca_sample.json');
  initModel(join(dir, 'tiny'), { ...INIT_MODEL_DEFAULTS, corpus: readCorpusTexts(alpaca) });
  runPython(python, 'tokens_build_sp.py', { dir: join(dir, 'sp'), texts: readCorpusTexts(alpaca), vocab_size: 600 });
  writeFileSync(join(dir, 'tricky.json'), JSON.stringify(TRICKY));
  const chatConfig = join(root, 'data', 'chat_tokenizer_config.json');
  const chatTemplate = (JSON.parse(readFileSync(chatConfig, 'utf8')) as { chat_template: string }).chat_template;

  // As pipelines/alpaca-lora.ft and pipelines/chat-qlora.ft preprocess, in data order (no shuffle) so rows line up.
  const examples: Artifact[] = [];
  for (const source of [alpaca, join(dir, 'tricky.json')]) {
    const raw = await stage(dataStage, 'raw', { source }, dir);
    examples.push(await stage(preprocessStage, 'raw2', { input: 'raw', prompt: '{instruction}\n{input}', response: '{output}', shuffle: false }, dir, [raw]));
    examples.push(await stage(preprocessStage, 'raw2', { input: 'raw', template: 'alpaca', shuffle: false }, dir, [raw]));
  }
  writeFileSync(join(dir, 'chats.jsonl'), [...readFileSync(join(root, 'data', 'chat_sample.jsonl'), 'utf8').trim().split('\n'), ...TRICKY_CHATS.map((c) => JSON.stringify(c))].join('\n') + '\n');
  const chats = await stage(dataStage, 'raw', { source: join(dir, 'chats.jsonl') }, dir);
  const conversations = await stage(preprocessStage, 'raw2', { input: 'raw', template: 'chat', chat_template: chatConfig, shuffle: false }, dir, [chats]);
  const messages = readJsonlFile(join(chats.dir, 'records.jsonl')).map((r) => ({ messages: (r as { messages: unknown }).messages }));

  interface Case { dir: string; max_length: number; chat_template: string | null; examples: unknown[]; ftc: Array<{ ids: number[]; labels: number[] }>; label: string }
  const cases: Case[] = [];
  for (const model of ['tiny', 'sp']) {
    const vocab = join(dir, model, 'tokenizer.json');
    const run = async (input: Artifact, params: { [k: string]: JsonValue }) => {
      const art = await stage(tokenizerStage, 'raw2', { input: 'raw2', vocab, ...params }, dir, [{ ...input, stage: 'raw2' }]);
      const split = readTokenDataset(art.dir).split('train');
      return Array.from({ length: split.count }, (_, i) => ({ ids: [...split.example(i).ids], labels: [...split.example(i).labels] }));
    };
    for (const [n, input] of examples.entries()) {
      const rows = readJsonlFile(join(input.dir, 'train.jsonl'));
      // A short max_length that cuts many responses (the Alpaca prompt alone is over 100 tokens here).
      for (const max_length of [512, n % 2 ? 160 : 24]) {
        cases.push({ label: `${model} ${input.dir} max_length ${max_length}`, dir: join(dir, model), max_length, chat_template: null, examples: rows, ftc: await run(input, { max_length }) });
      }
    }
    // The chat pipeline's tokenizer settings, unpacked so that examples line up one to one.
    for (const max_length of [256, 40]) {
      cases.push({ label: `${model} chat max_length ${max_length}`, dir: join(dir, model), max_length, chat_template: chatTemplate, examples: messages, ftc: await run(conversations, { max_length, add_eos: false }) });
    }
  }

  const hf = runPython<{ cases: Array<{ class: string; rows: Array<{ ids: number[]; labels: number[] }> }> }>(python, 'tokens_expected.py', { cases: cases.map(({ ftc: _, label: __, ...c }) => c) });
  let compared = 0, straddled = 0;
  cases.forEach((c, k) => {
    // ftc drops an example with nothing left to learn (its prompt fills max_length); HF's has every label masked.
    const want = hf.cases[k].rows.filter((r) => r.labels.some((l) => l !== IGNORE_INDEX));
    assert.equal(c.ftc.length, want.length, `${c.label}: example count`);
    c.ftc.forEach((got, i) => {
      assert.deepEqual(got.ids, want[i].ids, `${c.label}: ids of example ${i}`);
      assert.deepEqual(got.labels, want[i].labels, `${c.label}: labels of example ${i}`);
      compared++;
    });
    straddled += c.ftc.filter((r) => r.labels.every((l) => l === IGNORE_INDEX || l === r.ids[r.ids.length - 1])).length;
  });
  assert.ok(compared > 400, `compared ${compared} examples`);
  // Several assistant turns were trained in one conversation (at 256; 40 cuts the later turns away).
  const runs = (labels: number[]) => labels.filter((l, i) => l !== IGNORE_INDEX && (i === 0 || labels[i - 1] === IGNORE_INDEX)).length;
  for (const c of cases.filter((x) => x.chat_template !== null && x.max_length === 256)) assert.ok(c.ftc.some((r) => runs(r.labels) >= 2), `${c.label}: multi-turn training ${c.ftc.map((r) => runs(r.labels)).join(',')}`);
  // BOS placement as transformers does it: the tiny model's and the Llama-style tokenizer_config.json both say add_bos_token.
  // (The chat template writes <s> itself; no second one is added.) EOS ends every example that was not cut.
  for (const c of cases) {
    for (const r of c.ftc) assert.ok(r.ids[0] === 1 && r.ids[1] !== 1, `${c.label}: one BOS first`);
    if (c.chat_template === null) assert.ok(c.ftc.filter((r) => r.ids.length < c.max_length).every((r) => r.ids[r.ids.length - 1] === 2), `${c.label}: EOS last`);
  }
  assert.deepEqual(hf.cases.map((c) => c.class), cases.map((c) => (c.dir.endsWith('sp') ? 'LlamaTokenizer' : 'TokenizersBackend')));
  t.diagnostic(`compared ${compared} examples; AutoTokenizer classes: ${[...new Set(hf.cases.map((c) => c.class))].join(', ')}; ${straddled} with only EOS trained`);
});
