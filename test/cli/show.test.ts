import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { runCli, tempDir } from '../helpers.js';

const require = createRequire(import.meta.url);
const { Tokenizer } = require('tokenizers') as typeof import('tokenizers');

const PIPELINE = `pipeline p {
  seed = 1
}
data raw {
  source = "d.json"
}
preprocess prompts {
  input    = raw
  prompt   = "{q}\\n"
  response = "{a}"
  shuffle  = false
}
tokenizer tok {
  input = prompts
  train {
    vocab_size = 300
  }
}
`;

test('ftc show: tokenizer stage as jsonl {split, ids, labels} in stored order, as marked text; preprocess rows; runs the stages first', async () => {
  const dir = tempDir();
  writeFileSync(join(dir, 'p.ft'), PIPELINE);
  writeFileSync(join(dir, 'd.json'), JSON.stringify([{ q: 'What is 2+2?', a: '4.' }, { q: 'Say hi', a: 'Hi there!' }]));
  const env = { FTC_CACHE_DIR: join(dir, 'cache') };
  const jsonl = runCli(['show', 'p.ft', 'tok', '--format', 'jsonl'], { cwd: dir, env });
  assert.equal(jsonl.status, 0, jsonl.stderr);
  assert.match(jsonl.stderr, /ran {4}tok \(tokenizer\)/);
  const rows = jsonl.stdout.trim().split('\n').map((l) => JSON.parse(l) as { split: string; ids: number[]; labels: number[] });
  assert.equal(rows.length, 2);
  // Decoding is independent of ftc: the library turns ids back into the texts, labels into the responses.
  const cacheTokenizer = runCli(['show', 'p.ft', 'tok', '--rows', '1'], { cwd: dir, env });
  assert.equal(cacheTokenizer.status, 0, cacheTokenizer.stderr);
  assert.match(cacheTokenizer.stderr, /cached tok \(tokenizer\)/);
  assert.match(cacheTokenizer.stdout, /^── train 0: \d+ tokens, 3 trained\n<s> W h a t .*Ċ« 4 \. <\/s>»\n$/);
  const texts = ['What is 2+2?\n4.', 'Say hi\nHi there!'];
  const responses = ['4.', 'Hi there!'];
  const tok = await trainedTokenizer(env.FTC_CACHE_DIR);
  for (const [i, r] of rows.entries()) {
    assert.equal(r.split, 'train');
    assert.equal(await tok.decode(r.ids, true), texts[i]);
    assert.equal(await tok.decode(r.labels.filter((l) => l !== -100), true), responses[i]);
  }
  const prompts = runCli(['show', 'p.ft', 'prompts', '--rows', '1'], { cwd: dir, env });
  assert.deepEqual(JSON.parse(prompts.stdout), { split: 'train', prompt: 'What is 2+2?\n', response: '4.' });
  const missing = runCli(['show', 'p.ft', 'nope'], { cwd: dir, env });
  assert.equal(missing.status, 1);
  assert.match(missing.stderr, /error\[E_SHOW_STAGE\]: no stage named `nope`/);
});

/** The tokenizer.json the tokenizer stage trained and stored in its cache entry. */
async function trainedTokenizer(cache: string) {
  const { readdirSync } = await import('node:fs');
  const files = (readdirSync(cache, { recursive: true }) as string[]).filter((f) => f.endsWith('tokenizer.json'));
  assert.equal(files.length, 1);
  return Tokenizer.fromString(readFileSync(join(cache, files[0]), 'utf8'));
}
