import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { WeightMap } from '../model/api.js';
import { loadAdapter, saveAdapter, type AdapterConfig } from '../model/peft.js';
import { readSafetensors, writeSafetensors } from '../model/safetensors.js';
import { describeWriteError } from '../write-error.js';
import type { DataPosition } from './batches.js';
import type { MetricsRecord } from './metrics.js';
import type { AdamWState } from './optimizer.js';

/**
 * Checkpoints for exact resume, one directory per optimizer step:
 *
 *   <root>/step-N/adapter_config.json + adapter_model.safetensors   the adapter, in PEFT format
 *                (model.safetensors under full fine-tuning: the trained weights by HF name, full-model.ts)
 *                /optimizer.safetensors                               AdamW moments m.* and v.*
 *                /trainer_state.json                                  step, data position, seed, history...
 *
 * A checkpoint is written into `step-N.tmp-<pid>` and renamed into place, trainer_state.json last,
 * so a run killed while saving leaves no directory that looks complete.
 */

export interface TrainerSnapshot {
  step: number;
  seed: number;
  runKey?: string;
  data: DataPosition;
  optimizer: AdamWState;
  /** Adapter parameters by PEFT name. */
  adapter: WeightMap;
  history: MetricsRecord[];
  early: { best: number | null; bad: number };
  /** Losses summed on the device since the last log line (synced when the checkpoint was taken). */
  pending: { lossSum: number; steps: number; tokens: number };
}

/** How the adapter itself is written and read: PEFT's format, bound by the trainer stage. */
export interface AdapterFiles {
  save(dir: string, tensors: WeightMap): void | Promise<void>;
  load(dir: string): WeightMap | Promise<WeightMap>;
}

/** The adapter as PEFT writes it, so any checkpoint directory also loads in Python peft. */
export function peftAdapterFiles(config: AdapterConfig): AdapterFiles {
  return { save: (dir, tensors) => saveAdapter(dir, tensors, config), load: (dir) => loadAdapter(dir).tensors };
}

const STATE = 'trainer_state.json';
const OPTIMIZER = 'optimizer.safetensors';

export class CheckpointDir {
  constructor(
    readonly root: string,
    private readonly adapter: AdapterFiles,
  ) {}

  async save(s: TrainerSnapshot): Promise<string> {
    const final = join(this.root, `step-${s.step}`);
    const tmp = `${final}.tmp-${process.pid}`;
    rmSync(tmp, { recursive: true, force: true });
    try {
      mkdirSync(tmp, { recursive: true });
      await this.adapter.save(tmp, s.adapter);
      const moments = new Map<string, { shape: number[]; data: Float32Array; dtype: 'F32' }>();
      for (const [which, byName] of [['m', s.optimizer.m], ['v', s.optimizer.v]] as const) {
        for (const [name, t] of Object.entries(byName)) moments.set(`${which}.${name}`, { ...t, dtype: 'F32' });
      }
      writeSafetensors(join(tmp, OPTIMIZER), moments);
      const state = { step: s.step, seed: s.seed, run_key: s.runKey, data: s.data, optimizer_step: s.optimizer.step, history: s.history, early: s.early, pending: s.pending };
      writeFileSync(join(tmp, STATE), JSON.stringify(state, null, 1));
      rmSync(final, { recursive: true, force: true });
      renameSync(tmp, final);
    } catch (e) {
      // A full disk mid-checkpoint leaves no step-N.tmp-* behind; the previous checkpoints stay.
      rmSync(tmp, { recursive: true, force: true });
      throw describeWriteError(e, `checkpoint step-${s.step} in ${this.root}`);
    }
    return final;
  }

  /** Steps of the complete checkpoints, ascending. */
  steps(): number[] {
    if (!existsSync(this.root)) return [];
    return readdirSync(this.root)
      .map((n) => /^step-(\d+)$/.exec(n))
      .filter((m): m is RegExpExecArray => m !== null && existsSync(join(this.root, m[0], STATE)))
      .map((m) => Number(m[1]))
      .sort((a, b) => a - b);
  }

  latestDir(): string | undefined {
    const steps = this.steps();
    return steps.length ? join(this.root, `step-${steps[steps.length - 1]}`) : undefined;
  }

  async latest(): Promise<TrainerSnapshot | undefined> {
    const dir = this.latestDir();
    return dir ? this.load(dir) : undefined;
  }

  async load(dir: string): Promise<TrainerSnapshot> {
    const state = JSON.parse(readFileSync(join(dir, STATE), 'utf8')) as {
      step: number; seed: number; run_key?: string; data: DataPosition; optimizer_step: number;
      history: MetricsRecord[]; early: TrainerSnapshot['early']; pending: TrainerSnapshot['pending'];
    };
    const optimizer: AdamWState = { step: state.optimizer_step, m: {}, v: {} };
    for (const [key, t] of readSafetensors(join(dir, OPTIMIZER))) {
      const dot = key.indexOf('.');
      const which = key.slice(0, dot) as 'm' | 'v';
      optimizer[which][key.slice(dot + 1)] = { shape: t.shape, data: t.data };
    }
    const adapter = await this.adapter.load(dir);
    return { step: state.step, seed: state.seed, runKey: state.run_key, data: state.data, optimizer, adapter, history: state.history, early: state.early, pending: state.pending };
  }
}
