import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { FtcError } from '../errors.js';
import { installWasmKernels } from './kernels/index.js';
import * as tf from './tf.js';

/** Which tensor backend to run on; `auto` takes the first that loads, fastest first. */
export type BackendPreference = 'auto' | 'tensorflow-gpu' | 'tensorflow' | 'wasm' | 'cpu';

export interface BackendAttempt {
  name: Exclude<BackendPreference, 'auto'>;
  ok: boolean;
  /** Why it did not load, or what variant loaded (e.g. `simd, 1 thread`). */
  reason: string;
}

export interface BackendChoice {
  /** The backend now running. */
  name: Exclude<BackendPreference, 'auto'>;
  tried: BackendAttempt[];
}

const ORDER: Exclude<BackendPreference, 'auto'>[] = ['tensorflow-gpu', 'tensorflow', 'wasm', 'cpu'];
const require = createRequire(import.meta.url);

let current: BackendChoice | undefined;

/**
 * Loads and activates a backend. With `auto`, tries tfjs-node-gpu (CUDA), tfjs-node (libtensorflow),
 * wasm, then cpu, and records why each earlier one did not load. A named backend that cannot load is an
 * FtcError (the user asked for it). Calling again with the same preference returns the earlier choice.
 */
export async function initBackend(preference: BackendPreference = 'auto'): Promise<BackendChoice> {
  if (current && (preference === 'auto' || preference === current.name) && tf.getBackend() === engineName(current.name)) {
    return current;
  }
  const candidates = preference === 'auto' ? ORDER : [preference];
  const tried: BackendAttempt[] = [];
  for (const name of candidates) {
    try {
      const detail = await activate(name);
      tried.push({ name, ok: true, reason: detail });
      current = { name, tried };
      return current;
    } catch (e) {
      tried.push({ name, ok: false, reason: e instanceof Error ? e.message : String(e) });
    }
  }
  throw new FtcError(
    'E_BACKEND_UNAVAILABLE',
    `backend ${preference} could not be loaded: ${tried.map((t) => `${t.name}: ${t.reason}`).join('; ')}`,
    undefined,
    preference === 'auto' ? 'reinstall ftc (npm ci) so that @tensorflow/tfjs-backend-cpu is present' : 'use --backend auto to fall back to the next backend that loads',
  );
}

/** The name each backend registers under in the tfjs engine (both native packages register `tensorflow`). */
function engineName(name: Exclude<BackendPreference, 'auto'>): string {
  return name === 'tensorflow-gpu' ? 'tensorflow' : name;
}

/** Loads one backend's package and makes it the active one; returns a note on the variant, or throws why not. */
async function activate(name: Exclude<BackendPreference, 'auto'>): Promise<string> {
  switch (name) {
    case 'tensorflow-gpu':
    case 'tensorflow': {
      const pkg = name === 'tensorflow-gpu' ? '@tensorflow/tfjs-node-gpu' : '@tensorflow/tfjs-node';
      try {
        await import(pkg);
      } catch (e) {
        const code = (e as { code?: string }).code;
        throw new Error(code === 'ERR_MODULE_NOT_FOUND' ? `${pkg} is not installed (optional dependency)` : `${pkg} failed to load: ${(e as Error).message.split('\n')[0]}`);
      }
      // The package registers with whatever tfjs-core it resolved; the registry is global (see tf.ts),
      // but a core of another major version keeps its own, so check ours sees it.
      if (!tf.findBackendFactory('tensorflow')) throw new Error(`${pkg} loaded but registered with another copy of @tensorflow/tfjs-core`);
      if (!(await tf.setBackend('tensorflow'))) throw new Error(`${pkg} loaded but its backend failed to initialise`);
      return pkg;
    }
    case 'wasm': {
      const wasm = await import('@tensorflow/tfjs-backend-wasm');
      // In Node the .wasm binaries are read from the package's dist/ folder, not fetched from a CDN.
      const dist = join(dirname(require.resolve('@tensorflow/tfjs-backend-wasm/package.json')), 'dist') + '/';
      wasm.setWasmPaths(dist);
      if (!(await tf.setBackend('wasm'))) throw new Error('the wasm backend failed to initialise');
      const kernels = installWasmKernels(); // SIMD BatchMatMul (src/runtime/kernels); the built-in one stays the fallback
      const simd = tf.env().getBool('WASM_HAS_SIMD_SUPPORT');
      const threads = tf.env().getBool('WASM_HAS_MULTITHREAD_SUPPORT') ? wasm.getThreadsCount() : 1;
      return `${simd ? 'simd' : 'no simd'}, ${threads} thread${threads === 1 ? '' : 's'}, ${kernels.installed ? 'ftc matmul kernels' : `built-in matmul (${kernels.reason})`}`;
    }
    case 'cpu': {
      await import('@tensorflow/tfjs-backend-cpu');
      if (!(await tf.setBackend('cpu'))) throw new Error('the cpu backend failed to initialise');
      // The cpu backend prints a "you are running in Node.js" banner on first use; ftc doctor says it instead.
      (tf.backend() as unknown as { firstUse?: boolean }).firstUse = false;
      return 'plain JavaScript';
    }
  }
}
