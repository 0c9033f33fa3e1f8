/**
 * Loads the AssemblyScript matmul kernels (kernels/matmul.ts, built by `npm run build:kernels` to
 * dist/kernels/matmul.wasm) and instantiates them over the wasm backend's own linear memory, so the
 * kernels read tensors and write outputs where the backend keeps them: nothing is copied.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

// The project's lib (ES2022, no DOM) does not declare WebAssembly; these are the parts used here.
interface WasmMemory { readonly buffer: ArrayBuffer }
type WasmModule = object;
interface WasmApi {
  Memory: abstract new (...args: never[]) => WasmMemory;
  Module: new (bytes: Uint8Array) => WasmModule;
  Instance: new (module: WasmModule, imports: object) => { exports: Record<string, unknown> };
}
const WA = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;

/** The exports of kernels/matmul.ts; every pointer is a byte offset into the backend's memory. */
export interface MatmulExports {
  packB(b: number, K: number, N: number, ldb: number, transposed: number, dst: number): void;
  matmul(a: number, sAi: number, sAk: number, packed: number, c: number,
    M: number, N: number, ldc: number, K: number, rowBlock: number, kBlock: number, tile: number): void;
  /** y [N] = x [K] · Wᵀ, W [N, K] row-major. */
  gemvT32(x: number, w: number, y: number, K: number, N: number): void;
  /** y [N] = x [K] · B, B [K, N] with row length ldb. */
  gemvN32(x: number, b: number, y: number, K: number, N: number, ldb: number): void;
  // kernels/half.ts: W [N, K] of 16-bit values, one export per format (bf16, f16): with the format a runtime flag, Binaryen merged both widenings into one loop.
  packBf16(b: number, K: number, N: number, ldb: number, transposed: number, dst: number): void;
  packF16(b: number, K: number, N: number, ldb: number, transposed: number, dst: number): void;
  /** y [N] = x [K] · Wᵀ for W [N, K] of bf16 / f16 values; xs is K floats of scratch. */
  gemvBf16(x: number, w: number, y: number, K: number, N: number, xs: number): void;
  gemvF16(x: number, w: number, y: number, K: number, N: number, xs: number): void;
  gemvTBf16(dy: number, w: number, dx: number, N: number, K: number): void;
  gemvTF16(dy: number, w: number, dx: number, N: number, K: number): void;
  widen16(src: number, count: number, f16: number, dst: number): void;
}

/** What the kernels need from tfjs-backend-wasm's BackendWasm (its Emscripten module and heap). */
export interface WasmBackendLike {
  wasm: {
    _malloc(bytes: number): number;
    _free(ptr: number): void;
    HEAPF32: Float32Array;
    asm?: { memory?: WasmMemory };
    wasmMemory?: WasmMemory;
  };
  getMemoryOffset(dataId: object): number;
  disposeData(dataId: object, force?: boolean): boolean;
  makeOutput(shape: number[], dtype: 'float32'): { dataId: object; shape: number[]; dtype: 'float32' };
}

// dist/src/runtime/kernels/ → dist/kernels/: the build writes the .wasm beside the compiled tree.
const WASM_URL = new URL('../../../kernels/matmul.wasm', import.meta.url);

let compiled: WasmModule | undefined;
let bound: { memory: WasmMemory; exports: MatmulExports } | undefined;

/** The backend's WasmMemory: Emscripten exports it as `asm.memory` (older) or `wasmMemory`. */
export function backendMemory(backend: WasmBackendLike): WasmMemory | undefined {
  const wasm = backend.wasm as WasmBackendLike['wasm'] | undefined;
  const memory = wasm?.asm?.memory ?? wasm?.wasmMemory;
  return memory instanceof WA.Memory ? memory : undefined;
}

/** Compiles the kernel module once; throws with the path when the build has not produced it. */
export function compileKernels(): WasmModule {
  if (!compiled) {
    const path = fileURLToPath(WASM_URL);
    let bytes: Buffer;
    try {
      bytes = readFileSync(path);
    } catch {
      throw new Error(`wasm kernels not built: ${path} is missing (run \`npm run build:kernels\`)`);
    }
    compiled = new WA.Module(bytes);
  }
  return compiled;
}

/**
 * The kernels bound to this backend's memory. Re-instantiates when the backend was re-created with a
 * new memory; memory growth keeps the same Memory object, so offsets and the instance stay valid.
 */
export function kernelsFor(backend: WasmBackendLike): MatmulExports {
  const memory = backendMemory(backend);
  if (!memory) throw new Error('wasm backend exposes no WasmMemory');
  if (!bound || bound.memory !== memory) {
    const instance = new WA.Instance(compileKernels(), { env: { memory } });
    bound = { memory, exports: instance.exports as unknown as MatmulExports };
  }
  return bound.exports;
}
