import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { DIAGNOSTIC_CODES } from '../../src/compiler/codes.js';
import { formatFt, formatYaml } from '../../src/compiler/format.js';
import { compile } from '../../src/compiler/index.js';
import { parseFt } from '../../src/compiler/parse.js';
import { parseYaml } from '../../src/compiler/yaml.js';
import { repoRoot } from '../helpers.js';

// The YAML form's counterpart of property.test.ts: the same seed policy (fixed under CI, FTC_FC_SEED replays).
const seedFromEnv = process.env.FTC_FC_SEED ?? (process.env.CI === 'true' ? '20261202' : undefined);
if (seedFromEnv !== undefined) fc.configureGlobal({ seed: Number(seedFromEnv) });

function shape(ast: unknown): unknown {
  return JSON.parse(JSON.stringify(ast, (k, x) => (/range$/i.test(k) || k === 'file' ? undefined : x)));
}

const ident = fc
  .tuple(fc.constantFrom(...'abcdefghijklmnopqrstuvwxyz_'), fc.array(fc.constantFrom(...'abcdefghijklmnopqrstuvwxyz_0123456789'), { maxLength: 8 }))
  .map(([a, rest]) => a + rest.join(''))
  .filter((s) => !['true', 'false', 'null', 'kind', 'yes', 'no', 'on', 'off', 'y', 'n'].includes(s));
const number = fc.tuple(fc.boolean(), fc.integer({ min: 0, max: 99999 }), fc.option(fc.integer({ min: 0, max: 999 }))).map(([neg, i, f]) => `${neg ? '-' : ''}${i}${f === null ? '' : `.${f}`}`);
const string = fc.array(fc.constantFrom(...'ab #={}[],:é\'-'), { maxLength: 8 }).map((cs) => JSON.stringify(cs.join('')));
const scalar = fc.oneof(string, number, fc.constantFrom('true', 'false'), ident);

/** A flow value: scalars and flow lists of them, nested a little. */
const { flow } = fc.letrec<{ flow: string }>((tie) => ({
  flow: fc.oneof({ depthSize: 'small' }, scalar, fc.array(tie('flow'), { maxLength: 3 }).map((xs) => `[${xs.join(', ')}]`)),
}));

/** `key: value` lines at an indent; a value is a flow value or a nested block mapping. */
const entries = (indent: number, depth: number): fc.Arbitrary<string> =>
  fc.uniqueArray(fc.tuple(ident, depth > 0 ? fc.oneof(flow.map((v) => ({ v })), fc.constant({ nested: true })) : flow.map((v) => ({ v }))), { maxLength: 3, selector: ([k]) => k })
    .chain((es) => fc.tuple(...es.map(([k, v]) =>
      'v' in v ? fc.constant(`${' '.repeat(indent)}${k}: ${v.v}\n`) : entries(indent + 2, depth - 1).map((inner) => inner ? `${' '.repeat(indent)}${k}:\n${inner}` : `${' '.repeat(indent)}${k}: []\n`))))
    .map((lines) => lines.join(''));

const yamlPipeline = fc
  .tuple(fc.option(fc.integer({ min: 0, max: 1000 })), fc.uniqueArray(fc.tuple(ident, ident), { minLength: 1, maxLength: 4, selector: ([n]) => n }))
  .chain(([seed, stages]) => fc.tuple(...stages.map(([name, kind]) => entries(4, 1).map((body) => `  ${name}:\n    kind: ${kind}\n${body}`)))
    .map((bodies) => `${seed === null ? '' : `pipeline:\n  name: p\n  seed: ${seed}\n`}stages:\n${bodies.join('')}`));

test('generated YAML pipelines: read without errors, and the same AST through formatYaml and through .ft', () => {
  fc.assert(
    fc.property(yamlPipeline, (text) => {
      const first = parseYaml(text, 'p.ft.yaml');
      assert.deepEqual(first.diagnostics, [], text);
      const again = parseYaml(formatYaml(first.ast), 'p.ft.yaml');
      assert.deepEqual(again.diagnostics, [], formatYaml(first.ast));
      assert.deepEqual(shape(again.ast.stages), shape(first.ast.stages));
      const viaFt = parseFt(formatFt(first.ast), 'p.ft');
      assert.deepEqual(viaFt.diagnostics, [], formatFt(first.ast));
      assert.deepEqual(shape(viaFt.ast.stages), shape(first.ast.stages));
    }),
    { numRuns: 200 },
  );
});

const exampleYaml = readFileSync(join(repoRoot(), 'pipelines/alpaca-lora.ft.yaml'), 'utf8');

/** YAML's own hazards as edits: indentation, flow brackets, anchors and aliases, tags, quotes, document markers. */
const mutated = (base: string) =>
  fc
    .array(fc.tuple(fc.nat(base.length), fc.nat(6), fc.string({ maxLength: 5, unit: fc.constantFrom(...'{}[]:,"\'#&*!|>-?\n \t%@`'), })), { minLength: 1, maxLength: 8 })
    .map((edits) => edits.reduce((s, [at, del, ins]) => s.slice(0, at % (s.length + 1)) + ins + s.slice((at % (s.length + 1)) + del), base));

test('random and mutated YAML never throws through the whole compiler, and every diagnostic is a known code with a sane range', () => {
  const survive = (text: string) => {
    const r = compile(text, '/nowhere/p.ft.yaml', { checkFiles: false });
    for (const d of r.diagnostics) {
      assert.ok(d.code in DIAGNOSTIC_CODES, JSON.stringify(d));
      assert.ok(d.line >= 1 && d.column >= 1 && (d.endLine > d.line || (d.endLine === d.line && d.endColumn >= d.column)), JSON.stringify(d));
    }
    formatYaml(r.ast);
    formatFt(r.ast);
  };
  fc.assert(fc.property(fc.string({ maxLength: 300 }), survive), { numRuns: 300 });
  fc.assert(fc.property(mutated(exampleYaml), survive), { numRuns: 300 });
  fc.assert(fc.property(fc.integer({ min: 60, max: 3000 }), fc.constantFrom('[', '{a: ', '- '), (n, open) => survive(`stages:\n  x: ${open.repeat(n)}`)), { numRuns: 20 });
});
