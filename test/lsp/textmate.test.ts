import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import vsctm from 'vscode-textmate';
import { repoRoot } from '../helpers.js';
import { loadFtGrammar } from '../textmate-grammar.js';

/**
 * The TextMate grammar (grammar/ft.tmLanguage.json), run by the same engine VS Code uses
 * (vscode-textmate on the oniguruma regex library) over the example pipeline.
 */
let grammar: vsctm.IGrammar;

before(async () => {
  grammar = await loadFtGrammar();
});

interface Tok {
  text: string;
  line: number;
  scopes: string[];
}

function tokenize(text: string): Tok[] {
  const out: Tok[] = [];
  let state = vsctm.INITIAL;
  text.split('\n').forEach((lineText, line) => {
    const r = grammar.tokenizeLine(lineText, state);
    for (const t of r.tokens) out.push({ text: lineText.slice(t.startIndex, t.endIndex), line, scopes: t.scopes });
    state = r.ruleStack;
  });
  return out;
}

/** The innermost scope of the token whose text is exactly `text` (the nth such token), failing when none is. */
function scopeOf(toks: Tok[], text: string, nth = 0): string {
  const found = toks.filter((t) => t.text === text)[nth];
  assert.ok(found, `no token '${text}' (tokens: ${toks.map((t) => JSON.stringify(t.text)).join(' ')})`);
  return found.scopes[found.scopes.length - 1]!;
}

describe('TextMate grammar on pipelines/alpaca-lora.ft', () => {
  const seed = readFileSync(join(repoRoot(), 'pipelines/alpaca-lora.ft'), 'utf8');
  let toks: Tok[];
  before(() => {
    toks = tokenize(seed);
  });

  it('stage kinds are keywords and stage names are section names', () => {
    for (const kind of ['pipeline', 'data', 'preprocess', 'tokenizer', 'model', 'lora', 'trainer']) assert.equal(scopeOf(toks, kind), 'keyword.other.stage-kind.ft', kind);
    for (const name of ['alpaca_lora', 'prompts', 'adapter', 'sft']) assert.equal(scopeOf(toks, name), 'entity.name.section.stage.ft', name);
    assert.equal(toks.find((t) => t.text === 'tok')!.scopes.at(-1), 'entity.name.section.stage.ft');
  });

  it('keys are properties, and a key spelled like a kind is still a key', () => {
    for (const key of ['seed', 'source', 'eval_split', 'max_length', 'target_modules', 'batch_size', 'log_every']) assert.equal(scopeOf(toks, key), 'variable.other.property.ft', key);
    const trainerData = toks.filter((t) => t.text === 'data').at(-1)!; // `data = tok` inside the trainer
    assert.equal(trainerData.scopes.at(-1), 'variable.other.property.ft');
    const loraModel = toks.filter((t) => t.text === 'model').at(-2)!; // `model = base` inside the lora
    assert.equal(loraModel.scopes.at(-1), 'variable.other.property.ft');
    assert.equal(scopeOf(toks, '='), 'keyword.operator.assignment.ft');
  });

  it('strings, escapes, numbers, booleans and identifiers', () => {
    assert.equal(scopeOf(toks, '../data/alpaca_sample.json'), 'string.quoted.double.ft');
    assert.equal(scopeOf(toks, '\\n'), 'constant.character.escape.ft');
    assert.equal(scopeOf(toks, '"'), 'punctuation.definition.string.begin.ft');
    for (const n of ['42', '0.05', '512', '32', '0.1', '2e-4']) assert.equal(scopeOf(toks, n), 'constant.numeric.ft', n);
    assert.equal(scopeOf(toks, 'true'), 'constant.language.boolean.ft');
    for (const id of ['q_proj', 'v_proj', 'none', 'fp16']) assert.equal(scopeOf(toks, id), 'variable.other.constant.ft', id);
    // references: the second occurrence, after the stage's own name
    for (const id of ['raw', 'prompts', 'base', 'adapter']) assert.equal(scopeOf(toks, id, 1), 'variable.other.constant.ft', id);
  });

  it('comments', () => {
    const first = toks.filter((t) => t.line === 0);
    assert.equal(first[0]!.text, '#');
    assert.equal(first[0]!.scopes.at(-1), 'punctuation.definition.comment.ft');
    assert.ok(first.every((t) => t.scopes.includes('comment.line.number-sign.ft')));
  });
});

describe('TextMate grammar on edge cases', () => {
  it('a # inside a string is not a comment, and escaped quotes do not end the string', () => {
    const toks = tokenize('data d {\n  source = "a \\" # b"  # real\n}');
    assert.equal(scopeOf(toks, '\\"'), 'constant.character.escape.ft');
    assert.equal(scopeOf(toks, ' # b'), 'string.quoted.double.ft');
    assert.equal(scopeOf(toks, ' real'), 'comment.line.number-sign.ft');
  });

  it('bad escapes and unknown kinds are marked invalid; words that start like numbers or booleans are identifiers', () => {
    const toks = tokenize('trainr t {\n  prompt = "\\q"\n  x = trueish\n  y = v2e-4\n  z = -1_000\n  w = all-linear\n}');
    assert.equal(scopeOf(toks, 'trainr'), 'invalid.illegal.unknown-kind.ft');
    assert.equal(scopeOf(toks, '\\q'), 'invalid.illegal.escape.ft');
    assert.equal(scopeOf(toks, 'trueish'), 'variable.other.constant.ft');
    assert.equal(scopeOf(toks, 'v2e-4'), 'variable.other.constant.ft');
    assert.equal(scopeOf(toks, '-1_000'), 'constant.numeric.ft');
    assert.equal(scopeOf(toks, 'all-linear'), 'variable.other.constant.ft');
  });

  it('one-line stages and nested blocks', () => {
    const toks = tokenize('model m { path = "x" }\ntokenizer t {\n  train = { vocab_size = 300 }\n}');
    assert.equal(scopeOf(toks, 'm'), 'entity.name.section.stage.ft');
    assert.equal(scopeOf(toks, 'path'), 'variable.other.property.ft');
    assert.equal(scopeOf(toks, 'train'), 'variable.other.property.ft');
    assert.equal(scopeOf(toks, 'vocab_size'), 'variable.other.property.ft');
    assert.equal(scopeOf(toks, '300'), 'constant.numeric.ft');
  });
});
