import { FtcError } from '../../errors.js';
import { schemas } from '../../schema/index.js';
import type { StageImpl } from '../stage.js';

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

/**
 * A stage kind whose file is imported when a stage of that kind first runs, not at start-up: a fully
 * cached `ftc run` never loads tfjs (the trainer's import costs ~1 s of CPU), the tokenizers binding,
 * hyparquet or jinja. The version is the schema's x-version, which StageImpl.version must equal
 * (test/runtime/stages/registry.test.ts loads every file and checks).
 */
function onUse(kind: string, load: () => Promise<StageImpl>): StageImpl {
  return { kind, version: schemas[kind]['x-version'], run: async (ctx) => (await load()).run(ctx) };
}

// One line per stage kind: its file and the StageImpl that file exports.
const loaders: Record<string, () => Promise<StageImpl>> = {
  data: async () => (await import('./data.js')).dataStage,
  preprocess: async () => (await import('./preprocess.js')).preprocessStage,
  tokenizer: async () => (await import('./tokenizer.js')).tokenizerStage,
  model: async () => (await import('./model.js')).modelStage,
  lora: async () => (await import('./lora.js')).loraStage,
  trainer: async () => (await import('./trainer.js')).trainerStage,
  export: async () => (await import('./export.js')).exportStage,
};

/** The stage files behind `stageRegistry`, loaded now (a test checks each against its registry entry). */
export function loadBuiltinStages(): Promise<StageImpl[]> {
  return Promise.all(Object.values(loaders).map((load) => load()));
}

const builtin = Object.entries(loaders).map(([kind, load]) => onUse(kind, load));

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
