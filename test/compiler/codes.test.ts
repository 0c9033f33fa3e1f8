import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { test } from 'node:test';
import { DIAGNOSTIC_CODES } from '../../src/compiler/codes.js';
import { repoRoot } from '../helpers.js';

const doc = readFileSync(join(repoRoot(), 'grammar/diagnostics.md'), 'utf8');
const [checkPart, runtimePart = ''] = doc.split(/^## Runtime errors$/m);
const rowCodes = (text: string): string[] => [...text.matchAll(/^\| ([EW]\d{4}|E_[A-Z0-9_]+) \|/gm)].map((m) => m[1]!);

/** Every code literal in src/, with where it was seen: `'E0301'`, `"W0303"`, `'E_DATA_FORMAT'`. */
function codesRaisedInSrc(): Map<string, string> {
  const found = new Map<string, string>();
  const walk = (dir: string): void => {
    for (const name of readdirSync(dir)) {
      const p = join(dir, name);
      if (statSync(p).isDirectory()) walk(p);
      else if (p.endsWith('.ts')) {
        for (const m of readFileSync(p, 'utf8').matchAll(/['"`]([EW]0\d{3}|E_[A-Z][A-Z0-9_]+)['"`]/g)) {
          if (!found.has(m[1]!)) found.set(m[1]!, relative(repoRoot(), p));
        }
      }
    }
  };
  walk(join(repoRoot(), 'src'));
  return found;
}

test('grammar/diagnostics.md documents every code check reports, and every code the corpus expects is known', () => {
  assert.deepEqual([...new Set(rowCodes(checkPart!))].sort(), Object.keys(DIAGNOSTIC_CODES).sort());
  const corpus = join(repoRoot(), 'test/compiler/corpus');
  for (const f of readdirSync(corpus).filter((x) => x.endsWith('.expected.json'))) {
    for (const d of JSON.parse(readFileSync(join(corpus, f), 'utf8')) as { code: string }[]) assert.ok(d.code in DIAGNOSTIC_CODES, `${f}: ${d.code}`);
  }
});

test('every code raised anywhere in src/ (compiler, runtime, CLI) is documented, with its cause and fix', () => {
  const documented = new Set([...rowCodes(checkPart!), ...rowCodes(runtimePart)]);
  for (const [code, file] of codesRaisedInSrc()) assert.ok(documented.has(code), `${file} raises ${code}, which grammar/diagnostics.md does not document`);
  // A runtime row names its cause and its fix.
  for (const m of runtimePart.matchAll(/^\| (E_[A-Z0-9_]+) \|([^|]*)\|([^|]*)\|$/gm)) {
    assert.ok(m[2]!.trim().length > 5 && m[3]!.trim().length > 5, `${m[1]}: cause and fix`);
  }
});

test('no documented code is stale: each runtime row is raised somewhere, and none is documented twice', () => {
  const raised = codesRaisedInSrc();
  const runtime = rowCodes(runtimePart);
  assert.ok(runtime.length > 20, 'the runtime table is there');
  for (const code of runtime) assert.ok(raised.has(code), `${code} is documented but nothing in src/ raises it`);
  const all = [...rowCodes(checkPart!), ...runtime];
  assert.deepEqual(all.filter((c, i) => all.indexOf(c) !== i), []);
});
