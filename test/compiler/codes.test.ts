import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { DIAGNOSTIC_CODES } from '../../src/compiler/codes.js';
import { repoRoot } from '../helpers.js';

test('grammar/diagnostics.md documents every code, and every code the corpus expects is known', () => {
  const doc = readFileSync(join(repoRoot(), 'grammar/diagnostics.md'), 'utf8');
  const documented = new Set([...doc.matchAll(/^\| ([EW]\d{4}) \|/gm)].map((m) => m[1]));
  assert.deepEqual([...documented].sort(), Object.keys(DIAGNOSTIC_CODES).sort());
  const corpus = join(repoRoot(), 'test/compiler/corpus');
  for (const f of readdirSync(corpus).filter((x) => x.endsWith('.expected.json'))) {
    for (const d of JSON.parse(readFileSync(join(corpus, f), 'utf8')) as { code: string }[]) assert.ok(d.code in DIAGNOSTIC_CODES, `${f}: ${d.code}`);
  }
});

test('every code the sources report is in the catalog', () => {
  const dirs = ['src/compiler', 'src/compiler/validate', 'src/cli'];
  for (const dir of dirs) {
    for (const f of readdirSync(join(repoRoot(), dir)).filter((x) => x.endsWith('.ts'))) {
      const text = readFileSync(join(repoRoot(), dir, f), 'utf8');
      for (const m of text.matchAll(/['"`]([EW]0\d{3})['"`]/g)) assert.ok(m[1]! in DIAGNOSTIC_CODES, `${dir}/${f}: ${m[1]}`);
    }
  }
});

test('every runtime code grammar/diagnostics.md documents is one the sources raise', () => {
  const doc = readFileSync(join(repoRoot(), 'grammar/diagnostics.md'), 'utf8');
  const documented = [...doc.matchAll(/^\| (E_[A-Z0-9_]+) \|/gm)].map((m) => m[1]!);
  assert.ok(documented.length >= 6);
  const sources: string[] = [];
  const walk = (dir: string): void => {
    for (const e of readdirSync(join(repoRoot(), dir), { withFileTypes: true })) {
      if (e.isDirectory()) walk(join(dir, e.name));
      else if (e.name.endsWith('.ts')) sources.push(readFileSync(join(repoRoot(), dir, e.name), 'utf8'));
    }
  };
  walk('src');
  for (const code of documented) assert.ok(sources.some((t) => t.includes(`'${code}'`)), code);
});
