import { FtcError } from '../../errors.js';
import type { StageImpl } from '../stage.js';
import { dataStage } from './data.js';
import { preprocessStage } from './preprocess.js';
import { tokenizerStage } from './tokenizer.js';
import { modelStage } from './model.js';
import { loraStage } from './lora.js';
import { trainerStage } from './trainer.js';
import { exportStage } from './export.js';
// One import per stage kind; each stage file exports its StageImpl. Stage authors add their line
// here and their entry to `builtin` below (data, preprocess, tokenizer, model, lora, trainer, export).

/** A flat registry: stage kind → implementation. The executor accepts another one (tests). */
export type StageRegistry = ReadonlyMap<string, StageImpl>;

export function makeRegistry(impls: readonly StageImpl[]): StageRegistry {
  const map = new Map<string, StageImpl>();
  for (const impl of impls) {
    if (map.has(impl.kind)) throw new Error(`stage kind ${impl.kind} registered twice`);
    map.set(impl.kind, impl);
  }
  return map;
}

const builtin: StageImpl[] = [dataStage, preprocessStage, tokenizerStage, modelStage, loraStage, trainerStage, exportStage];

export const stageRegistry: StageRegistry = makeRegistry(builtin);

/** The implementation of a stage kind; an unknown kind fails listing the known ones. */
export function stageImpl(kind: string, registry: StageRegistry = stageRegistry): StageImpl {
  const impl = registry.get(kind);
  if (impl) return impl;
  const known = [...registry.keys()].sort();
  throw new FtcError(
    'E_UNKNOWN_STAGE_KIND',
    `no runtime implementation for stage kind '${kind}'`,
    undefined,
    known.length ? `known stage kinds: ${known.join(', ')}` : 'no stage kinds are registered in this build',
  );
}
