import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { RECORDS_FILE } from '../../src/runtime/stages/data.js';
import { runCli, tempDir } from '../helpers.js';

/** `ftc run`, `ftc plan` explanations and `ftc cache` on a small real pipeline (data → preprocess). */
function setup() {
  const dir = tempDir('ftc-run-cache-');
  const rows = Array.from({ length: 30 }, (_, i) => ({ instruction: `Say ${i}`, input: '', output: `number ${i}` }));
  writeFileSync(join(dir, 'd.json'), JSON.stringify(rows));
  writeFileSync(
    join(dir, 'p.ft'),
    ['pipeline small {', '  seed = 3', '}', 'data raw {', '  source = "d.json"', '}', 'preprocess prompts {', '  input = raw', '  prompt = "{instruction}"', '  response = "{output}"', '  eval_split = 0.1', '}', ''].join('\n'),
  );
  const env = { FTC_CACHE_DIR: join(dir, 'cache') };
  const ftc = (...args: string[]) => runCli(args, { cwd: dir, env });
  return { dir, ftc };
}

const planJson = (r: { stdout: string }) =>
  Object.fromEntries((JSON.parse(r.stdout).stages as { name: string; status: string; reasons: string[] }[]).map((s) => [s.name, [s.status, ...s.reasons]]));

test('run writes the lock; plan explains a changed file and a --set parameter; run --frozen refuses', () => {
  const { dir, ftc } = setup();
  assert.deepEqual(planJson(ftc('plan', 'p.ft', '--format', 'json')), {
    raw: ['run', 'new stage (no lock file yet)'],
    prompts: ['run', 'new stage (no lock file yet)'],
  });
  const first = ftc('run', 'p.ft');
  assert.equal(first.status, 0, first.stderr);
  assert.match(first.stdout, /^ran    raw \(data\)  \S+  rows 30  skipped 0$/m);
  assert.match(first.stdout, /^done in .*: 2 ran, 0 cached; lock written to p\.ft\.lock$/m);
  assert.ok(existsSync(join(dir, 'p.ft.lock')));
  assert.deepEqual(planJson(ftc('plan', 'p.ft', '--format', 'json')), { raw: ['cached'], prompts: ['cached'] });

  const text = readFileSync(join(dir, 'd.json'), 'utf8');
  writeFileSync(join(dir, 'd.json'), text.replace('Say 7', 'Say 8'));
  assert.deepEqual(planJson(ftc('plan', 'p.ft', '--format', 'json', '--set', 'prompts.eval_split=0.2')), {
    raw: ['run', 'content of d.json changed'],
    prompts: ['run', 'parameter eval_split changed from 0.1 to 0.2', 'upstream stage raw will re-run'],
  });
  const planText = ftc('plan', 'p.ft');
  assert.match(planText.stdout, /1\. data raw {2}key \w{12} {2}\[run\]\n {5}will run: content of d\.json changed/);

  const frozen = ftc('run', 'p.ft', '--frozen');
  assert.equal(frozen.status, 1);
  assert.match(frozen.stderr, /error\[E_LOCK_FROZEN\]: --frozen: the lock file would change:\n {2}- stage prompts: upstream stage raw changed\n {2}- stage raw: content of d\.json changed/);
  assert.doesNotMatch(frozen.stdout, /^ran /m);

  const second = ftc('run', 'p.ft');
  assert.equal(second.status, 0, second.stderr);
  assert.match(second.stdout, /2 ran, 0 cached/);
  assert.equal(ftc('run', 'p.ft', '--frozen').status, 0);
});

test('cache ls, du, gc (keeps what a lock references), verify, clear', () => {
  const { dir, ftc } = setup();
  assert.equal(ftc('run', 'p.ft').status, 0);
  assert.equal(ftc('run', 'p.ft', '--set', 'prompts.eval_split=0.2').status, 0);
  // The lock now references the eval_split=0.2 entry; the 0.1 one is garbage.
  const ls = ftc('cache', 'ls');
  assert.match(ls.stdout, /cache: 3 entries/);
  assert.equal((ls.stdout.match(/unreferenced/g) ?? []).length, 1, ls.stdout);
  assert.match(ftc('cache', 'du').stdout, /cache: [\d.]+ KiB in 3 entries\n {2}data .*\n {2}preprocess/);
  assert.match(ftc('cache', 'gc', '--dry-run').stdout, /would drop 1 unreferenced entry/);
  assert.match(ftc('cache', 'gc').stdout, /dropped 1 unreferenced entry/);
  assert.equal(readdirSync(join(dir, 'cache')).filter((n) => /^[0-9a-f]{64}$/.test(n)).length, 2);
  assert.match(ftc('run', 'p.ft', '--set', 'prompts.eval_split=0.2').stdout, /0 ran, 2 cached/);

  const key = JSON.parse(readFileSync(join(dir, 'p.ft.lock'), 'utf8')).stages.raw.key as string;
  const file = join(dir, 'cache', key, RECORDS_FILE);
  {
    const bytes = readFileSync(file);
    bytes[5] ^= 1;
    writeFileSync(file, bytes);
    const verify = ftc('cache', 'verify');
    assert.equal(verify.status, 1);
    assert.match(verify.stdout, new RegExp(`${key.slice(0, 12)} \\(raw\\): corrupt: file ${RECORDS_FILE} does not match its sha256 checksum`));
    const rerun = ftc('run', 'p.ft', '--set', 'prompts.eval_split=0.2');
    assert.match(rerun.stderr, new RegExp(`warning: cache entry ${key.slice(0, 12)} \\(stage raw\\) is corrupt`));
    assert.match(rerun.stdout, /^ran    raw/m);
    assert.equal(ftc('cache', 'verify').status, 0);
  }
  assert.match(ftc('cache', 'clear').stdout, /removed 2 entries/);
  assert.match(ftc('cache', 'ls').stdout, /cache: 0 entries/);
});
