import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root (the directory holding package.json), from src or dist alike. */
export function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) {
    const up = dirname(dir);
    if (up === dir) throw new Error('package.json not found above ' + import.meta.url);
    dir = up;
  }
  return dir;
}

export function tempDir(prefix = 'ftc-test-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/** Runs the built CLI (dist/src/cli/main.js) as a child process, like a user would. */
export function runCli(args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv; input?: string } = {}): SpawnSyncReturns<string> {
  return spawnSync(process.execPath, [join(repoRoot(), 'dist/src/cli/main.js'), ...args], {
    cwd: opts.cwd ?? repoRoot(),
    env: { ...process.env, CI: 'true', ...opts.env },
    input: opts.input,
    encoding: 'utf8',
    timeout: 600_000,
  });
}
