import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot, runCli, tempDir } from '../helpers.js';

test('ftc fmt prints, --check fails on non-canonical files, --write fixes them; syntax errors exit 1', () => {
  const dir = tempDir();
  const file = join(dir, 'p.ft');
  writeFileSync(file, 'data raw{source="x"   # s\n}\n');
  assert.equal(runCli(['fmt', file]).stdout, 'data raw {\n  source = "x"  # s\n}\n');
  const check = runCli(['fmt', '--check', file, join(repoRoot(), 'pipelines/alpaca-lora.ft')]);
  assert.equal(check.status, 1);
  assert.equal(check.stdout, `${file}: not in canonical form (run ftc fmt --write ${file})\n`);
  assert.equal(runCli(['fmt', '--write', file]).status, 0);
  assert.equal(runCli(['fmt', '--check', file]).status, 0);
  writeFileSync(file, 'data raw {\n  source "x"\n}\n');
  const bad = runCli(['fmt', file]);
  assert.equal(bad.status, 1);
  assert.match(bad.stderr, /p\.ft:2:10: error\[E0002\]: expected '=' after key 'source', found string "x"/);
});

test('ftc convert: .ft → YAML → .ft gives the canonical .ft back', () => {
  const dir = tempDir();
  const yaml = join(dir, 'a.ft.yaml');
  const toYaml = runCli(['convert', join(repoRoot(), 'pipelines/alpaca-lora.ft'), '--to', 'yaml', '--out', yaml]);
  assert.equal(toYaml.status, 0, toYaml.stderr);
  assert.match(readFileSync(yaml, 'utf8'), /^# yaml-language-server: \$schema=.*grammar\/ft\.schema\.json\n/);
  const back = runCli(['convert', yaml, '--to', 'ft']);
  assert.equal(back.status, 0, back.stderr);
  assert.equal(back.stdout, readFileSync(join(repoRoot(), 'pipelines/alpaca-lora.ft'), 'utf8'));
  assert.equal(runCli(['convert', yaml, '--to', 'toml']).status, 2);
});
