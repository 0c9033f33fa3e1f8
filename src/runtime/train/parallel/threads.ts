import { availableParallelism, totalmem } from 'node:os';
import type { LlamaConfig } from '../../../model-spec/config.js';
import { residentWeightDtype, WASM_HEAP_BYTES, workersThatFit, type MemoryTarget, type PlanBackend, type TrainingShape } from '../../../model-spec/memory.js';
import { resolveWorkers } from './pool.js';

/** What the machine offers: its RAM and cores (os.totalmem(), availableParallelism() unless a test says otherwise). */
export interface ThreadHost {
  ramBytes: number;
  cores: number;
}

/**
 * The threads a trainer runs: a number as given, `auto` (or unset) every core on wasm/cpu capped by the memory
 * plan, since each thread holds a full copy of the model (workersThatFit against the wasm heap per worker and the
 * machine's RAM, with the frozen weights in the dtype this backend keeps them in), and never more than the
 * micro-batch's rows. The one place trainer.ts resolves `workers`.
 */
export function trainingThreads(config: LlamaConfig, shape: TrainingShape, backend: PlanBackend, setting: number | 'auto' | undefined,
  host: ThreadHost = defaultHost()): number {
  const fit = workersThatFit(config, { ...shape, workers: 1 }, trainingMemoryTarget(config, shape, backend, host), host.cores);
  return resolveWorkers(setting, backend, shape.batchSize, fit, host.cores);
}

/** What a trainer's memory is planned against on this backend and machine (the plan the build follows under QLoRA). */
export function trainingMemoryTarget(config: LlamaConfig, shape: TrainingShape, backend: PlanBackend, host: ThreadHost = defaultHost()): MemoryTarget {
  return {
    heapBytesPerWorker: backend === 'wasm' ? WASM_HEAP_BYTES : undefined,
    residentDtype: residentWeightDtype(config.storedDtype, backend, { full: shape.fullParams !== undefined }),
    ramBytes: host.ramBytes,
  };
}

function defaultHost(): ThreadHost {
  return { ramBytes: totalmem(), cores: availableParallelism() };
}
