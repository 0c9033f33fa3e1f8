import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { test } from 'node:test';
import { repoRoot } from './helpers.js';

/**
 * The dependency rule of DESIGN.md, read from the sources: the compiler, the schemas and the model facts
 * never import the runtime or TensorFlow.js; the runtime takes from the compiler its IR types only.
 */

interface Import { file: string; spec: string; typeOnly: boolean; target?: string }

function importsUnder(dir: string): Import[] {
  const out: Import[] = [];
  const walk = (d: string): void => {
    for (const name of readdirSync(d)) {
      const p = join(d, name);
      if (statSync(p).isDirectory()) walk(p);
      else if (p.endsWith('.ts')) out.push(...importsOf(p));
    }
  };
  walk(join(repoRoot(), dir));
  return out;
}

/** Static imports, re-exports and dynamic import() of one file, with where a relative one lands under src/. */
export function importsOf(file: string, text = readFileSync(file, 'utf8')): Import[] {
  const out: Import[] = [];
  const re = /^\s*(import|export)\s+(type\s+)?[^'"]*?from\s+['"]([^'"]+)['"]|^\s*import\s+['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/gm;
  for (const m of text.matchAll(re)) {
    const spec = m[3] ?? m[4] ?? m[5]!;
    const target = spec.startsWith('.') ? relative(repoRoot(), resolve(dirname(file), spec)).replace(/\.js$/, '.ts') : undefined;
    out.push({ file: relative(repoRoot(), file), spec, typeOnly: m[2] !== undefined, target });
  }
  return out;
}

const isTf = (i: Import): boolean => i.spec.startsWith('@tensorflow/') || /\/runtime\/tf(\.js)?$/.test(i.spec);
const show = (i: Import): string => `${i.file} imports ${i.spec}`;

test('src/compiler, src/schema and src/model-spec import neither src/runtime nor TensorFlow.js', () => {
  for (const dir of ['src/compiler', 'src/schema', 'src/model-spec']) {
    const imports = importsUnder(dir);
    assert.ok(imports.length > 0, dir);
    const bad = imports.filter((i) => isTf(i) || i.target?.startsWith('src/runtime/') || i.target?.startsWith('src/cli/') || i.target?.startsWith('src/lsp/'));
    assert.deepEqual(bad.map(show), []);
  }
});

test('src/model-spec imports nothing from src/compiler either: the compiler stands on it, not the reverse', () => {
  assert.deepEqual(importsUnder('src/model-spec').filter((i) => i.target?.startsWith('src/compiler/')).map(show), []);
});

test('src/runtime takes from src/compiler only types from the IR', () => {
  const bad = importsUnder('src/runtime').filter((i) => i.target?.startsWith('src/compiler/') && !(i.typeOnly && i.target === 'src/compiler/ir.ts'));
  assert.deepEqual(bad.map(show), []);
});

test('the scanner sees the imports it is meant to catch', () => {
  const f = join(repoRoot(), 'src/runtime/x.ts');
  const got = importsOf(f, "import { compileFile } from '../compiler/index.js';\nimport type { PipelineIR } from '../compiler/ir.js';\nconst m = await import('@tensorflow/tfjs');\nexport { a } from './b.js';\n");
  assert.deepEqual(got.map((i) => [i.spec, i.typeOnly, i.target]), [
    ['../compiler/index.js', false, 'src/compiler/index.ts'],
    ['../compiler/ir.js', true, 'src/compiler/ir.ts'],
    ['@tensorflow/tfjs', false, undefined],
    ['./b.js', false, 'src/runtime/b.ts'],
  ]);
});
