import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { formatFt, formatYaml } from '../../src/compiler/format.js';
import { parseFt } from '../../src/compiler/parse.js';
import { parseYaml } from '../../src/compiler/yaml.js';
import { repoRoot } from '../helpers.js';

// CI runs a fixed seed, so a submission's result does not depend on the draw; a local run explores a
// new seed each time (fast-check prints it on failure; FTC_FC_SEED=N replays it).
const seedFromEnv = process.env.FTC_FC_SEED ?? (process.env.CI === 'true' ? '20261129' : undefined);
if (seedFromEnv !== undefined) fc.configureGlobal({ seed: Number(seedFromEnv) });

/** The AST without positions: what formatting must preserve (comment texts included, in order). */
function shape(ast: unknown): unknown {
  return JSON.parse(JSON.stringify(ast, (k, x) => (/range$/i.test(k) || k === 'file' ? undefined : x)));
}

const identChars = 'abcdefghijklmnopqrstuvwxyz_0123456789-.';
const ident = fc
  .tuple(fc.constantFrom(...'abcdefghijklmnopqrstuvwxyz_'), fc.array(fc.constantFrom(...identChars), { maxLength: 8 }))
  .map(([a, rest]) => a + rest.join(''))
  .filter((s) => s !== 'true' && s !== 'false');
const digits = fc.array(fc.constantFrom(...'0123456789'), { minLength: 1, maxLength: 4 }).map((d) => d.join(''));
const number = fc
  .tuple(fc.boolean(), digits, fc.option(digits), fc.option(fc.tuple(fc.constantFrom('e', 'E'), fc.constantFrom('', '-', '+'), fc.integer({ min: 0, max: 99 }).map(String))))
  .map(([neg, int, frac, exp]) => `${neg ? '-' : ''}${int}${frac ? '.' + frac : ''}${exp ? exp.join('') : ''}`);
const escapes = ['\\n', '\\t', '\\"', '\\\\', '\\u{1F600}', '\\0'];
const string = fc.array(fc.oneof(fc.constantFrom(...'ab #={}[],é'), fc.constantFrom(...escapes)), { maxLength: 6 }).map((p) => `"${p.join('')}"`);
/** Whitespace between tokens: spaces, newlines and comments (which run to the end of their line). */
const gap = fc.constantFrom(' ', '\n', '  \n\n  ', ' # note\n', '\n# own line\n', '\t');

const { value } = fc.letrec<{ value: string; entries: string }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    string,
    number,
    fc.constantFrom('true', 'false'),
    ident,
    fc.array(tie('value'), { maxLength: 3 }).chain((items) => gap.map((g) => `[${g}${items.join(', ')}${g}]`)),
    tie('entries').map((e) => `{${e}}`),
  ),
  entries: fc.array(fc.tuple(gap, ident, tie('value'), gap), { maxLength: 3 }).map((es) => es.map(([g1, k, v, g2]) => `${g1}${k} = ${v}${g2}`).join('')),
}));
const stage = fc.tuple(ident, ident, fc.array(fc.tuple(ident, value, gap), { maxLength: 4 }), gap).map(
  ([kind, name, entries, g]) => `${kind} ${name} {${g}${entries.map(([k, v, g2]) => `${k} = ${v}${g2}`).join('')}}`,
);
const pipeline = fc.tuple(fc.array(fc.tuple(gap, stage), { maxLength: 5 }), gap).map(([ss, g]) => ss.map(([a, s]) => a + s).join('\n') + g);

test('generated valid pipelines: parse(fmt(x)) equals parse(x), fmt is idempotent, YAML round-trips', () => {
  fc.assert(
    fc.property(pipeline, (text) => {
      const first = parseFt(text, 'p.ft');
      assert.deepEqual(first.diagnostics, [], text);
      const once = formatFt(first.ast);
      const again = parseFt(once, 'p.ft');
      assert.deepEqual(again.diagnostics, [], once);
      assert.deepEqual(shape(again.ast.stages), shape(first.ast.stages));
      assert.deepEqual(again.ast.comments.map((c) => c.text), first.ast.comments.map((c) => c.text));
      assert.equal(formatFt(again.ast), once);
      const viaYaml = parseYaml(formatYaml(again.ast), 'p.ft.yaml');
      assert.deepEqual(viaYaml.diagnostics, []);
      assert.deepEqual(shape(viaYaml.ast.stages), shape(first.ast.stages));
    }),
    { numRuns: 300 },
  );
});

const example = readFileSync(join(repoRoot(), 'pipelines/alpaca-lora.ft'), 'utf8');
const exampleYaml = readFileSync(join(repoRoot(), 'pipelines/alpaca-lora.ft.yaml'), 'utf8');

/** Deletes, inserts or replaces a few characters: the typos an editor sees while a user types. */
const mutated = (base: string) =>
  fc
    .array(fc.tuple(fc.nat(base.length), fc.nat(6), fc.string({ maxLength: 4, unit: fc.constantFrom(...'{}[]=,"#\\\n x1-:\'\t') })), { minLength: 1, maxLength: 6 })
    .map((edits) => edits.reduce((s, [at, del, ins]) => s.slice(0, at % (s.length + 1)) + ins + s.slice((at % (s.length + 1)) + del), base));

test('random and mutated text never throws, terminates, and formats whatever it recovered', () => {
  const survive = (text: string) => {
    const ft = parseFt(text, 'p.ft');
    for (const d of ft.diagnostics) assert.ok(d.line >= 1 && d.column >= 1 && /^E000[1234]$/.test(d.code), JSON.stringify(d));
    formatFt(ft.ast);
    formatYaml(ft.ast);
    parseYaml(text, 'p.ft.yaml');
  };
  fc.assert(fc.property(fc.string({ maxLength: 200 }), survive), { numRuns: 300 });
  fc.assert(fc.property(mutated(example), survive), { numRuns: 300 });
  fc.assert(fc.property(mutated(exampleYaml), (t) => void parseYaml(t, 'p.ft.yaml')), { numRuns: 200 });
});
