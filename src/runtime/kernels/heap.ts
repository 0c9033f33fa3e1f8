/**
 * Checked allocation on the wasm backend's heap.
 *
 * tfjs-backend-wasm allocates every tensor with `this.wasm._malloc(bytes)` (BackendWasm.move, reached by
 * write and makeOutput) and never checks the result. Past the heap's limit Emscripten's malloc returns 0,
 * and the tensor is then placed at offset 0, over the module's own data: a probe's matMul returned 3.7e-41
 * instead of 262144 with no error. A request of 4 GiB or more is worse still: the size wraps to its low 32
 * bits and a too-small block is handed out. `guardWasmHeap` wraps the module's `_malloc` (the backend looks
 * it up on every call, so one wrapper sees every tensor, ftc's kernel scratch included) and turns both into
 * an FtcError naming the stage, the size asked and the budget.
 *
 * Allocations inside the backend's C++ kernels do not pass through `_malloc`'s JS export; when one of them
 * fails, the module aborts (`RuntimeError: Aborted()`) or traps. `withMemoryStage` reports such a trap as the
 * same error when the heap was close to its limit, so the user sees the cause rather than an internal error.
 */
import { FtcError } from '../../errors.js';

/** Emscripten's getHeapMax() for this build: 65535 pages of 64 KiB (wasm32 addresses stop at 4 GiB). */
export const WASM_HEAP_MAX_BYTES = 4294901760;

/** A trap with the heap above this share of its maximum is taken for exhaustion. */
const NEAR_FULL = 0.9;

interface GuardableModule {
  _malloc(bytes: number): number;
  HEAPU8: Uint8Array;
  [GUARDED]?: true;
}
const GUARDED = Symbol('ftc heap guard');

let stage = 'a tensor operation';
let heapOf: (() => number) | undefined;

/** Runs `fn` with `name` as the stage an exhaustion error names; traps near the heap's limit become that error. */
export function withMemoryStage<T>(name: string, fn: () => T): T {
  const previous = stage;
  stage = name;
  try {
    return fn();
  } catch (e) {
    throw asHeapExhaustion(e) ?? e;
  } finally {
    stage = previous;
  }
}

/** The stage allocations are attributed to now. */
export function memoryStage(): string {
  return stage;
}

/** Wraps the backend module's `_malloc` once; later calls are no-ops. Returns false when there is nothing to wrap. */
export function guardWasmHeap(wasm: { _malloc?: (bytes: number) => number; HEAPU8?: Uint8Array } | undefined): boolean {
  const module = wasm as GuardableModule | undefined;
  if (!module || typeof module._malloc !== 'function') return false;
  if (module[GUARDED]) return true;
  // Emscripten's glue first exports a stub that, on its first call, replaces `Module._malloc` with the raw
  // wasm export; an accessor keeps our wrapper in place and takes whatever the glue assigns as the function beneath.
  let malloc = module._malloc;
  const guarded = (bytes: number): number => {
    if (!(bytes >= 0) || bytes > WASM_HEAP_MAX_BYTES) throw heapExhausted(bytes, module.HEAPU8.length);
    const ptr = malloc(bytes);
    if (ptr === 0 && bytes > 0) throw heapExhausted(bytes, module.HEAPU8.length);
    return ptr;
  };
  Object.defineProperty(module, '_malloc', {
    configurable: true,
    enumerable: true,
    get: () => guarded,
    set: (f: (bytes: number) => number) => {
      malloc = f;
    },
  });
  heapOf = () => module.HEAPU8.length;
  module[GUARDED] = true;
  return true;
}

/** The error for an allocation of `bytes` that the heap (now `heapBytes` long) cannot serve. */
export function heapExhausted(bytes: number, heapBytes: number): FtcError {
  return new FtcError(
    'E_WASM_HEAP_EXHAUSTED',
    `out of wasm memory during ${stage}: asked for ${formatBytes(bytes)}, the heap holds ${formatBytes(heapBytes)} of its ${formatBytes(WASM_HEAP_MAX_BYTES)} budget per worker`,
    undefined,
    'shorten max_length, lower batch_size, set gradient_checkpointing = true, use fewer workers, or run on a native backend (tfjs-node)',
  );
}

/** A WebAssembly trap (abort, out-of-bounds access) while the heap is nearly full, as the exhaustion error. */
function asHeapExhaustion(e: unknown): FtcError | undefined {
  if (e instanceof FtcError || !(e instanceof Error) || e.constructor.name !== 'RuntimeError') return undefined;
  if (!/Aborted|memory access out of bounds|Cannot enlarge memory/.test(e.message)) return undefined;
  const heap = heapOf?.() ?? 0;
  return heap >= NEAR_FULL * WASM_HEAP_MAX_BYTES ? heapExhausted(Number.NaN, heap) : undefined;
}

export function formatBytes(bytes: number): string {
  if (!Number.isFinite(bytes)) return 'an unknown amount';
  if (bytes >= 2 ** 30) return `${(bytes / 2 ** 30).toFixed(2)} GiB`;
  if (bytes >= 2 ** 20) return `${(bytes / 2 ** 20).toFixed(1)} MiB`;
  return `${Math.round(bytes / 1024)} KiB`;
}
