import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { compileFile, parseSource, planPipeline } from '../../src/compiler/index.js';
import { buildIR } from '../../src/compiler/ir-build.js';
import { isFtcError } from '../../src/errors.js';
import { readTokenizerVocabSize } from '../../src/model-spec/tokenizer.js';
import { ArtifactCache } from '../../src/runtime/cache.js';
import { execute } from '../../src/runtime/executor.js';
import { runCli, tempDir } from '../helpers.js';
import { CORPUS_DIR, workspace } from './fixture.js';

// Pipelines that are syntactically and schema-valid but cannot run: each NAME.ft comes with the one
// diagnostic `ftc check` must give ({code, line, column}, written from the text) and the stage whose
// run raised that code before check knew it.
type Expected = { code: string; line: number; column: number; stage: string };
const names = readdirSync(CORPUS_DIR).filter((f) => f.endsWith('.ft')).map((f) => f.slice(0, -3)).sort();
const expected = (name: string): Expected => JSON.parse(readFileSync(join(CORPUS_DIR, `${name}.expected.json`), 'utf8')) as Expected;
const ws = workspace();

test('the corpus covers every fact check now knows before running', () => {
  assert.ok(names.length >= 7, `only ${names.length}`);
  const codes = new Set(names.map((n) => expected(n).code));
  for (const c of ['E_TOKENIZER_MODEL_MISMATCH', 'E_CHAT_TEMPLATE', 'E_PREPROCESS_PARAMS', 'E_MODEL_CONFIG_UNSUPPORTED', 'E_MODEL_CONFIG_INVALID', 'E_LORA_RANK']) assert.ok(codes.has(c), c);
});

test("the fixture's tokenizer has one token more than the model, counted as the tokenizers library counts", () => {
  const require = createRequire(import.meta.url);
  const { Tokenizer } = require('tokenizers') as typeof import('tokenizers');
  const file = join(ws.dir, 'models/tiny/tokenizer-plus-one.json');
  const library = Tokenizer.fromString(readFileSync(file, 'utf8')).getVocabSize(true);
  assert.equal(library, ws.modelVocab + 1);
  assert.equal(readTokenizerVocabSize(file), library);
  assert.equal(readTokenizerVocabSize(join(ws.dir, 'models/tiny/tokenizer.json')), Tokenizer.fromString(readFileSync(join(ws.dir, 'models/tiny/tokenizer.json'), 'utf8')).getVocabSize(true));
});

for (const name of names) {
  const file = join(ws.dir, `${name}.ft`);
  const want = expected(name);

  test(`${name}: ftc check gives exactly ${want.code} at ${want.line}:${want.column}`, () => {
    const r = compileFile(file);
    assert.deepEqual(r.diagnostics.map((d) => [d.severity, d.code, d.line, d.column]), [['error', want.code, want.line, want.column]], r.diagnostics.map((d) => d.message).join('\n'));
    assert.ok(r.diagnostics[0]!.message.length > 20);
  });

  test(`${name}: ftc run stops with ${want.code} before the first stage runs`, () => {
    const cache = join(tempDir(), 'cache');
    const res = runCli(['run', file], { env: { FTC_CACHE_DIR: cache } });
    assert.equal(res.status, 1, res.stderr);
    assert.match(res.stderr, new RegExp(`error\\[${want.code}\\]`));
    assert.doesNotMatch(res.stdout + res.stderr, /\b(ran|cached)\b.*\braw\b|internal error|at .*\.js:\d+/);
    assert.ok(!existsSync(cache) || readdirSync(cache).length === 0, 'nothing was cached');
    assert.ok(!existsSync(join(ws.dir, 'out')));
  });

  test(`${name}: with check bypassed, the runtime raises the same ${want.code} in stage ${want.stage}`, async () => {
    // The IR straight from the AST, no validation: what ftc run executed before check knew these facts.
    const ir = buildIR(parseSource(readFileSync(file, 'utf8'), file).ast, file, dirname(file));
    const plan = await planPipeline(ir);
    const ran: string[] = [];
    await assert.rejects(
      execute(plan, ir, { cache: new ArtifactCache(join(tempDir(), 'cache')), report: (line) => ran.push(line) }),
      (e: unknown) => {
        assert.ok(isFtcError(e), String(e));
        assert.equal(e.code, want.code, e.message);
        return true;
      },
    );
    // Before check knew, the data stage had already run (work check now saves), and the failing stage never finished.
    assert.ok(ran.some((l) => /^ran\s+raw \(data\)/.test(l)), ran.join('\n'));
    assert.ok(!ran.some((l) => new RegExp(`^ran\\s+${want.stage} `).test(l)), ran.join('\n'));
  });
}
