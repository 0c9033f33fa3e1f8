/**
 * Per-kernel call counts and wall time on one backend, for `npm run bench -- generate --profile`: every kernel
 * registered for the backend is re-registered wrapped in a timer until `stop()` puts the originals back. The
 * wasm backend runs a kernel synchronously inside its op call, so the time around kernelFunc is the kernel's
 * (what it does not see is tfjs's own cost per op, the difference from the step's total).
 */
import * as tf from '../src/runtime/tf.js';

export interface KernelStat {
  kernel: string;
  calls: number;
  ms: number;
}

export function profileKernels(backend: string): { reset(): void; stop(): KernelStat[] } {
  const stats = new Map<string, KernelStat>();
  const originals = tf.getKernelsForBackend(backend);
  for (const k of originals) {
    const inner = k.kernelFunc;
    const stat: KernelStat = { kernel: k.kernelName, calls: 0, ms: 0 };
    stats.set(k.kernelName, stat);
    tf.unregisterKernel(k.kernelName, backend);
    // The setup ran when the backend started; re-registering without it keeps the same live handles.
    tf.registerKernel({
      kernelName: k.kernelName, backendName: backend,
      kernelFunc: ((args: Parameters<tf.KernelFunc>[0]) => {
        const start = performance.now();
        try {
          return inner(args);
        } finally {
          stat.ms += performance.now() - start;
          stat.calls++;
        }
      }) as tf.KernelFunc,
    });
  }
  return {
    reset() {
      for (const s of stats.values()) [s.calls, s.ms] = [0, 0];
    },
    stop() {
      for (const k of originals) {
        tf.unregisterKernel(k.kernelName, backend);
        tf.registerKernel({ kernelName: k.kernelName, backendName: backend, kernelFunc: k.kernelFunc });
      }
      return [...stats.values()].filter((s) => s.calls > 0).sort((a, b) => b.ms - a.ms);
    },
  };
}
