import { join } from 'node:path';

/**
 * Where the artifact cache lives: `FTC_CACHE_DIR` when set, else `<pipeline dir>/.ftc/cache`.
 * Below both the compiler (which keeps outputs out of it) and the runtime (which writes it).
 */
export function defaultCacheDir(pipelineDir: string): string {
  const env = process.env.FTC_CACHE_DIR;
  return env && env.trim() !== '' ? env : join(pipelineDir, '.ftc', 'cache');
}
