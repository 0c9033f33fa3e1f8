/** The interop environment is exactly what interop/requirements.txt pins, and torch is the CPU build. */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { repoRoot } from '../helpers.js';
import { requirePython, runPython } from './env.js';

test('interop env: every pinned distribution is installed at its pinned version; torch is a CPU build', (t) => {
  const python = requirePython(t);
  if (!python) return;
  const pins = readFileSync(join(repoRoot(), 'interop', 'requirements.txt'), 'utf8')
    .split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'))
    .map((l) => { const [name, v] = l.split('=='); return { name, version: v }; });
  assert.ok(pins.length > 10 && pins.every((p) => p.version), 'every line is an exact pin');
  const got = runPython<Record<string, string | null>>(python, 'versions.py', { names: pins.map((p) => p.name) });
  for (const p of pins) assert.equal(got[p.name]?.replace(/\+cpu$/, ''), p.version, p.name);
  assert.equal(got._torch_cuda_build, null, 'torch must be the CPU build');
});
