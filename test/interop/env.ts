/**
 * The Python interop environment, as the tests see it: the pinned virtualenv that `bash interop/setup.sh`
 * builds (torch 2.13.0 CPU, transformers, peft, accelerate, datasets, bitsandbytes, gguf), used only to load
 * what ftc writes and to write what ftc reads.
 *
 * A missing or stale environment never lets a test pass: under CI=true the test fails with the reason;
 * locally it is skipped, and the reason (with the command that fixes it) is printed.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { repoRoot, tempDir } from '../helpers.js';

export const SETUP_COMMAND = 'bash interop/setup.sh';

export function venvDir(): string {
  return process.env.FTC_INTEROP_VENV ?? join(repoRoot(), '.interop-venv');
}

let cached: { python: string } | { reason: string } | undefined;

/** The venv's python when the environment is built and matches interop/requirements.txt; else why not. */
export function interopPython(): { python: string } | { reason: string } {
  if (cached) return cached;
  const venv = venvDir();
  const python = join(venv, 'bin', 'python');
  const want = createHash('sha256').update(readFileSync(join(repoRoot(), 'interop', 'requirements.txt'))).digest('hex');
  const stampFile = join(venv, '.ftc-requirements.sha256');
  if (!existsSync(python)) cached = { reason: `the Python interop environment is not built (${venv}); run \`${SETUP_COMMAND}\`` };
  else if (!existsSync(stampFile) || readFileSync(stampFile, 'utf8').trim() !== want)
    cached = { reason: `the Python interop environment at ${venv} is out of date with interop/requirements.txt; run \`${SETUP_COMMAND}\`` };
  else cached = { python };
  return cached;
}

/**
 * The python to use, or undefined after skipping the test (locally) — under CI=true a missing
 * environment throws, so the test fails instead of passing by skipping.
 */
export function requirePython(t: TestContext): string | undefined {
  const env = interopPython();
  if ('python' in env) return env.python;
  if (process.env.CI === 'true') throw new Error(`interop test cannot run under CI=true: ${env.reason}`);
  process.stdout.write(`# skipping interop test: ${env.reason}\n`);
  t.skip(env.reason);
  return undefined;
}

/** Environment for every Python child: offline, no telemetry, deterministic, one thread unless asked. */
export function pythonEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const home = tempDir('ftc-hf-home-');
  return {
    PATH: process.env.PATH,
    HOME: home,
    HF_HOME: join(home, 'hf'),
    HF_HUB_OFFLINE: '1',
    TRANSFORMERS_OFFLINE: '1',
    HF_DATASETS_OFFLINE: '1',
    HF_HUB_DISABLE_TELEMETRY: '1',
    TOKENIZERS_PARALLELISM: 'false',
    PYTHONDONTWRITEBYTECODE: '1',
    PYTHONHASHSEED: '0',
    OMP_NUM_THREADS: '1',
    ...extra,
  };
}

/**
 * Runs interop/py/<script> with `input` as JSON on stdin; the script prints one JSON object as its last
 * stdout line. A non-zero exit throws with the script's stderr, so a Python failure is a test failure.
 */
export function runPython<T = unknown>(python: string, script: string, input: unknown, opts: { cwd?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): T {
  const r = spawnSync(python, [join(repoRoot(), 'interop', 'py', script)], {
    cwd: opts.cwd ?? repoRoot(),
    env: pythonEnv(opts.env),
    input: JSON.stringify(input),
    encoding: 'utf8',
    maxBuffer: 256 * 1024 * 1024,
    timeout: opts.timeoutMs ?? 300_000,
  });
  if (r.error) throw new Error(`${script}: ${r.error.message}`);
  if (r.status !== 0) throw new Error(`${script} exited ${r.status}:\n${r.stderr.slice(-4000)}`);
  const lines = r.stdout.trim().split('\n');
  try {
    return JSON.parse(lines[lines.length - 1]) as T;
  } catch {
    throw new Error(`${script} printed no JSON result:\n${r.stdout.slice(-2000)}\n${r.stderr.slice(-2000)}`);
  }
}
