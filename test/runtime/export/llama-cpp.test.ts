/**
 * The exported GGUF, run by llama.cpp itself (node-llama-cpp 3.21.1's prebuilt CPU binary): its greedy
 * continuation must equal `ftc generate`'s and its next-token log-probabilities must match `ftc score`'s,
 * both computed by ftc from the base model + the PEFT adapter (not from the merged weights).
 *
 * Tolerances on log-probabilities: f32 GGUF 1e-3 (llama.cpp runs f32 weights with an f32 KV cache; what
 * remains is summation order), q8_0 0.3 (measured 0.144: llama.cpp quantises the weights to 8 bits per 32-block AND the activations they multiply, on a model whose
 * weights are ten times initModel's so that quantisation error is visible rather than lost in noise).
 * If node-llama-cpp cannot load its prebuilt binary here, the test fails under CI=true and otherwise skips
 * and prints why: it is never
 * allowed to download or build llama.cpp at test time.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { runCli, tempDir } from '../../helpers.js';
import { CORPUS, makeRandomAdapter, makeTinyModel } from './fixture.js';
import { type Llama, openLlamaContext, openLlamaCpp } from '../../llama-cpp.js';

const PROMPT = 'The three primary colors are';
const SCORED = 'Describe the structure of an atom. Eat well and sleep well.';
const NEW_TOKENS = 16;

let llama: Llama | undefined;
let skipReason: string | undefined;

describe('exported GGUF in llama.cpp', () => {
  const root = tempDir('ftc-llamacpp-');
  const base = join(root, 'base');
  const adapter = join(root, 'adapter');

  before(async () => {
    const opened = await openLlamaCpp();
    if ('llama' in opened) llama = opened.llama;
    else skipReason = opened.reason;
    if (skipReason) {
      // Under CI a missing llama.cpp is a failure, never a pass by skipping.
      if (process.env.CI === 'true') throw new Error(`llama.cpp comparison cannot run under CI=true: ${skipReason}`);
      process.stdout.write(`# skipping llama.cpp comparison: ${skipReason}\n`);
      return;
    }
    makeRandomAdapter(adapter, makeTinyModel(base));
  });
  after(async () => {
    await llama?.dispose();
  });

  /** ftc's own answers, from the CLI a user runs. */
  const ftcGenerate = (): string => {
    const r = runCli(['generate', '--model', base, '--adapter', adapter, '--prompt', PROMPT, '--max-new-tokens', String(NEW_TOKENS)]);
    assert.equal(r.status, 0, r.stderr);
    return r.stdout.replace(/\n$/, '');
  };
  const ftcScore = (): number[] => {
    const r = runCli(['score', '--model', base, '--adapter', adapter, '--text', SCORED, '--format', 'json']);
    assert.equal(r.status, 0, r.stderr);
    return (JSON.parse(r.stdout) as { logprobs: number[] }).logprobs;
  };
  const ftcTokenize = async (text: string): Promise<number[]> => {
    const { loadTokenizerFile } = await import('../../../src/runtime/tokenize/load.js');
    const file = join(base, 'tokenizer.json');
    return (await loadTokenizerFile(file, file).tokenizer.encode(text)).getIds();
  };

  async function exportGguf(dtype: 'f32' | 'q8_0'): Promise<string> {
    const out = join(root, `model-${dtype}.gguf`);
    const r = runCli(['export', '--model', base, '--adapter', adapter, '--format', 'gguf', '--dtype', dtype, '--out', out, '--force']);
    assert.equal(r.status, 0, r.stderr);
    return out;
  }

  const open = (path: string) => openLlamaContext(llama!, path, { contextSize: 128 });

  /** llama.cpp's log p(ids[i+1] | ids[..i]) for every position, from its full next-token distributions. */
  async function llamaLogprobs(path: string, ids: number[]): Promise<number[]> {
    const { model, context } = await open(path);
    try {
      const seq = context.getSequence();
      const input = ids.map((t) => [t, { generateNext: { probabilities: true, options: { temperature: 1, topK: 0, topP: 1, minP: 0 } } }] as const);
      const res = await seq.controlledEvaluate(input);
      return ids.slice(1).map((next, i) => Math.log(res[i]!.next.probabilities!.get(next)!));
    } finally {
      await context.dispose();
      await model.dispose();
    }
  }

  it('tokenizes like ftc and continues the prompt greedily exactly as `ftc generate` does (f32)', async (t) => {
    if (skipReason) return t.skip(skipReason);
    const path = await exportGguf('f32');
    const ids = await ftcTokenize(PROMPT);
    assert.equal(ids[0], 1, 'the tokenizer prepends <s>');
    const { model, context } = await open(path);
    try {
      // llama.cpp's own BPE (pre-tokenizer "gpt-2") splits every corpus sentence into ftc's ids.
      for (const text of [PROMPT, ...CORPUS]) assert.deepEqual(model.tokenize(text), (await ftcTokenize(text)).slice(1), text);
      const seq = context.getSequence();
      const generated: number[] = [];
      let input: number[] = ids;
      while (generated.length < NEW_TOKENS) {
        const res = await seq.controlledEvaluate(input.map((tok, i) => (i === input.length - 1 ? [tok, { generateNext: { token: true, options: { temperature: 0 } } }] : tok)));
        const next = res[input.length - 1]!.next.token!;
        generated.push(next);
        if (next === 2) break;
        input = [next];
      }
      const text = model.detokenize(generated.filter((x) => x > 2));
      assert.equal(text, ftcGenerate());
      assert.ok(generated.length >= 4, `llama.cpp generated ${generated.length} tokens`);
    } finally {
      await context.dispose();
      await model.dispose();
    }
  });

  it('gives next-token log-probabilities within 1e-3 of `ftc score` (f32) and within 0.3 (q8_0)', async (t) => {
    if (skipReason) return t.skip(skipReason);
    const ids = await ftcTokenize(SCORED);
    const expected = ftcScore();
    assert.equal(expected.length, ids.length - 1);
    for (const [dtype, tol] of [['f32', 1e-3], ['q8_0', 0.3]] as const) {
      const got = await llamaLogprobs(await exportGguf(dtype), ids);
      const worst = Math.max(...got.map((g, i) => Math.abs(g - expected[i]!)));
      process.stdout.write(`# ${dtype}: max |llama.cpp − ftc| log-prob difference ${worst.toExponential(2)} over ${got.length} positions\n`);
      assert.ok(worst < tol, `${dtype}: max difference ${worst} ≥ ${tol}`);
    }
  });
});
