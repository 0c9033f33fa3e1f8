import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { existsSync, lstatSync, mkdtempSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
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

/**
 * Every entry under dir, without following symlinks: relative path → file content (base64 for
 * bytes), `<dir>`, `-> target` for a link. Two equal snapshots mean nothing was changed or removed.
 */
export function snapshotTree(dir: string): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (rel: string): void => {
    for (const name of readdirSync(join(dir, rel)).sort()) {
      const r = rel ? `${rel}/${name}` : name;
      const st = lstatSync(join(dir, r));
      if (st.isSymbolicLink()) out.set(r, `-> ${readlinkSync(join(dir, r))}`);
      else if (st.isDirectory()) {
        out.set(r, '<dir>');
        walk(r);
      } else if (st.isFile()) out.set(r, readFileSync(join(dir, r)).toString('base64'));
      else out.set(r, '<special>');
    }
  };
  walk('');
  return out;
}

/**
 * config.json of a small Llama (2 layers, hidden 512, Llama's default vocabulary), with the given context:
 * a stand-in model directory for tests that read only its facts. A config.json holding `architectures`
 * alone takes Llama-2-7B's defaults, which the memory plan (E_MEMORY_PLAN) rightly finds too large to train.
 */
export function smallLlamaConfig(maxPositions: number, extra: Record<string, unknown> = {}): string {
  return JSON.stringify({
    architectures: ['LlamaForCausalLM'], max_position_embeddings: maxPositions,
    hidden_size: 512, intermediate_size: 1024, num_hidden_layers: 2, num_attention_heads: 8, ...extra,
  });
}
