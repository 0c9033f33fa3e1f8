import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { repoRoot, runCli, tempDir } from '../helpers.js';

/**
 * A preload that records every module the process loads: ESM resolutions through a module.register
 * hook (which sees `import` of packages, tfjs included) and, at exit, every CommonJS file in the
 * require cache (packages loaded through createRequire). One path per line into TRACE_OUT.
 */
const TRACE_HOOK = `
import { register, createRequire } from 'node:module';
import { appendFileSync } from 'node:fs';
const out = process.env.TRACE_OUT;
register('data:text/javascript,' + encodeURIComponent(\`
import { appendFileSync } from 'node:fs';
export async function resolve(specifier, context, next) {
  const r = await next(specifier, context);
  appendFileSync(\${JSON.stringify(out)}, r.url + '\\\\n');
  return r;
}\`));
const cache = createRequire(import.meta.url).cache;
process.on('exit', () => appendFileSync(out, Object.keys(cache).map((f) => f + '\\n').join('')));
`;

function traced(dir: string, args: string[], name: string, env: NodeJS.ProcessEnv = {}): { status: number | null; stdout: string; stderr: string; loaded: string[] } {
  const out = join(dir, `${name}.trace`);
  writeFileSync(out, '');
  const r = spawnSync(process.execPath, ['--import', pathToFileURL(join(dir, 'trace-hook.mjs')).href, ...args], {
    cwd: dir,
    env: { ...process.env, CI: 'true', TRACE_OUT: out, ...env },
    encoding: 'utf8',
    timeout: 120_000,
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr, loaded: readFileSync(out, 'utf8').split('\n').filter(Boolean) };
}

test('a cached `ftc run` of data → preprocess → tokenizer loads no tfjs module and no stage file', () => {
  const dir = tempDir('ftc-lazy-load-');
  writeFileSync(join(dir, 'trace-hook.mjs'), TRACE_HOOK);
  const rows = Array.from({ length: 40 }, (_, i) => ({ instruction: `Say ${i} things about water`, input: '', output: `number ${i} is a river city` }));
  writeFileSync(join(dir, 'd.json'), JSON.stringify(rows));
  writeFileSync(join(dir, 'p.ft'), [
    'pipeline small {', '  seed = 3', '}',
    'data raw {', '  source = "d.json"', '}',
    'preprocess prompts {', '  input = raw', '  prompt = "{instruction}"', '  response = "{output}"', '  eval_split = 0.1', '}',
    'tokenizer tok {', '  input = prompts', '  train = { vocab_size = 300 }', '}', '',
  ].join('\n'));
  const env = { FTC_CACHE_DIR: join(dir, 'cache') };
  const main = join(repoRoot(), 'dist/src/cli/main.js');

  const first = runCli(['run', 'p.ft'], { cwd: dir, env });
  assert.equal(first.status, 0, first.stderr);
  assert.match(first.stdout, /3 ran, 0 cached/);

  const cached = traced(dir, [main, 'run', 'p.ft'], 'cached', env);
  assert.equal(cached.status, 0, cached.stderr);
  assert.match(cached.stdout, /0 ran, 3 cached/);
  assert.ok(cached.loaded.some((f) => f.includes('/runtime/stages/index.js')), 'the trace saw the stage registry load');
  assert.deepEqual(cached.loaded.filter((f) => f.includes('@tensorflow')), []);
  assert.deepEqual(cached.loaded.filter((f) => /\/runtime\/stages\/(?!index\.js)[^/]+\.js$/.test(f)), []);

  // The same hook does see tfjs when a stage file that needs it is loaded: the check above can fail.
  const control = traced(dir, ['--input-type=module', '-e', `await import(${JSON.stringify(pathToFileURL(join(repoRoot(), 'dist/src/runtime/stages/trainer.js')).href)})`], 'control');
  assert.equal(control.status, 0, control.stderr);
  assert.ok(control.loaded.some((f) => f.includes('@tensorflow/tfjs-core')), control.loaded.join('\n'));
});
