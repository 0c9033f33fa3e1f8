import type { FullSettings, LoraSettings, WeightMap } from '../../model/api.js';
import type { LlamaConfig } from '../../../model-spec/config.js';
import type { Share, StepOptions } from '../step.js';
import type { HostGrads } from './allreduce.js';

/**
 * What a worker builds its copy of the model from: a model directory (with the lora stage's cached 4-bit base
 * under QLoRA), or weights in memory (tests, bench), with a LoRA adapter or, under full fine-tuning, `full` (the
 * main thread then sends every trained weight each step).
 */
export type ModelSource = ({ dir: string; quantizedBase?: string; streamQuantized?: boolean } | { config: LlamaConfig; weights: WeightMap }) & ({ lora: LoraSettings; full?: undefined } | { full: FullSettings; lora?: undefined });

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
