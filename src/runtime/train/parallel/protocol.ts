import type { LoraSettings, WeightMap } from '../../model/api.js';
import type { LlamaConfig } from '../../../model-spec/config.js';
import type { Share, StepOptions } from '../step.js';
import type { HostGrads } from './allreduce.js';

/** What a worker builds its frozen copy of the model from: a model directory, or weights in memory (tests, bench). */
export type ModelSource = { dir: string; lora: LoraSettings; quantizedBase?: string } | { config: LlamaConfig; weights: WeightMap; lora: LoraSettings };

/** Main thread → worker. */
export type ToWorker =
  | { type: 'init'; backend: string; source: ModelSource; step?: StepOptions }
  /** The current adapter (by PEFT name, the model's own storage layout) and this worker's shares of the step. */
  | { type: 'step'; id: number; params: HostGrads; shares: Share[] };

/** An error as it crosses the thread boundary; `code` set when it was an FtcError (a user mistake). */
export interface WireError {
  message: string;
  stack?: string;
  code?: string;
  where?: { file?: string; line?: number; column?: number; row?: number };
  hint?: string;
}

/** Worker → main thread. */
export type FromWorker =
  | { type: 'ready' }
  | { type: 'grads'; id: number; grads: HostGrads; loss: number }
  | { type: 'error'; id?: number; error: WireError };
