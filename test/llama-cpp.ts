/**
 * node-llama-cpp (3.21.1's prebuilt CPU binary), loaded the one way both its users need: the export test
 * (test/runtime/export/llama-cpp.test.ts) and the generation benchmark (bench/generate.ts). It is never
 * allowed to download or build llama.cpp.
 *
 * The slice of its API used is typed here: the package is not a declared dependency (its prebuilt CUDA/Vulkan
 * binaries add about 1.7 min to `npm ci`), so this file must compile without it. Install it with
 * `npm install --no-save node-llama-cpp@3.21.1` to run the comparisons.
 */

export interface LlamaSequence {
  controlledEvaluate(input: unknown[]): Promise<({ next: { token?: number | null; probabilities?: Map<number, number> } } | undefined)[]>;
  clearHistory(): Promise<void>;
}
export interface LlamaContext {
  getSequence(): LlamaSequence;
  dispose(): Promise<void>;
}
export interface LlamaModel {
  tokenize(text: string): number[];
  detokenize(tokens: number[]): string;
  createContext(o: Record<string, unknown>): Promise<LlamaContext>;
  dispose(): Promise<void>;
}
export interface Llama {
  loadModel(o: { modelPath: string }): Promise<LlamaModel>;
  dispose(): Promise<void>;
}
interface NodeLlamaCpp {
  getLlama(o: Record<string, unknown>): Promise<Llama>;
  LlamaLogLevel: { error: string };
}
/** A variable specifier keeps tsc from resolving the optional package. */
const NODE_LLAMA_CPP = 'node-llama-cpp';

/** llama.cpp's CPU backend, or why it cannot load here (not installed; no prebuilt binary for this machine). */
export async function openLlamaCpp(): Promise<{ llama: Llama } | { reason: string }> {
  let lib: NodeLlamaCpp;
  try {
    lib = (await import(NODE_LLAMA_CPP)) as NodeLlamaCpp;
  } catch (e) {
    return { reason: `node-llama-cpp is not installed (npm install --no-save node-llama-cpp@3.21.1 to run this comparison): ${(e as Error).message.split('\n')[0]}` };
  }
  try {
    // maxThreads 0: a context's `threads` is then the number it runs on, not a hint capped by the pool.
    const llama = await lib.getLlama({ gpu: false, build: 'never', skipDownload: true, usePrebuiltBinaries: true, progressLogs: false, logLevel: lib.LlamaLogLevel.error, maxThreads: 0 });
    return { llama };
  } catch (e) {
    return { reason: `node-llama-cpp has no prebuilt llama.cpp binary that loads here (and may not build or download one): ${(e as Error).message}` };
  }
}

/**
 * A model and one context over it, with an f32 KV cache as ftc keeps it (llama.cpp's default f16 cache would
 * round every key and value). `threads` unset: llama.cpp's default.
 */
export async function openLlamaContext(llama: Llama, modelPath: string, o: { contextSize: number; threads?: number }): Promise<{ model: LlamaModel; context: LlamaContext }> {
  const model = await llama.loadModel({ modelPath });
  try {
    const context = await model.createContext({
      contextSize: o.contextSize, batchSize: o.contextSize, flashAttention: false,
      ...(o.threads !== undefined ? { threads: o.threads } : {}),
      experimentalKvCacheKeyType: 'F32', experimentalKvCacheValueType: 'F32',
    });
    return { model, context };
  } catch (e) {
    await model.dispose();
    throw e;
  }
}
