import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runCli } from '../helpers.js';

test('ftc doctor --format json names the backend in use and why each earlier one did not load', () => {
  const r = runCli(['doctor', '--format', 'json']);
  assert.equal(r.status, 0, r.stderr);
  const report = JSON.parse(r.stdout) as {
    node: string; cores: number; backend: { name: string }; wasm: { simd: boolean; threads: boolean };
    backends: Array<{ name: string; status: string; reason: string }>;
  };
  assert.equal(report.node, process.version);
  assert.ok(report.cores >= 1);
  assert.deepEqual(report.backends.map((b) => b.name), ['tensorflow-gpu', 'tensorflow', 'wasm', 'cpu']);
  const used = report.backends.findIndex((b) => b.status === 'in use');
  assert.equal(report.backends[used]!.name, report.backend.name);
  // auto order: every backend before the one in use failed, with a reason; every one after was not tried.
  report.backends.slice(0, used).forEach((b) => assert.ok(b.status === 'failed' && b.reason.length > 0, JSON.stringify(b)));
  report.backends.slice(used + 1).forEach((b) => assert.equal(b.status, 'not tried'));
  assert.equal(typeof report.wasm.simd, 'boolean');
});

test('ftc doctor --backend cpu uses cpu and prints a readable report', () => {
  const r = runCli(['doctor', '--backend', 'cpu']);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /^backend: +cpu/m);
  assert.match(r.stdout, /^node: +v\d+/m);
  assert.match(r.stdout, /^wasm: +SIMD (yes|no), threads (yes|no)$/m);
});
