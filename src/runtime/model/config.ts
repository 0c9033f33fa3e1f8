// The config.json parser moved to src/model-spec/config.ts (below the compiler, so `ftc check` uses it
// too). This re-export keeps branches still importing the old path building until they are merged.
export * from '../../model-spec/config.js';
