import type { SourceRange } from './diagnostics.js';

export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };

export type StageKind = 'data' | 'preprocess' | 'tokenizer' | 'model' | 'lora' | 'trainer' | 'export';

/** One validated stage. References are stage names (strings) inside params. */
export interface StageIR {
  name: string;
  kind: StageKind;
  /** Resolved parameters: every schema key with its default filled in (optional keys without a default are absent). */
  params: { [key: string]: JsonValue };
  /** Names of the upstream stages this stage references, in the order the keys appear in the schema. */
  inputs: string[];
  /** Paths the stage reads, as written in the pipeline (relative to the pipeline's directory). */
  files: string[];
  range: SourceRange;
}

export interface PipelineIR {
  /** Absolute path of the pipeline file. */
  file: string;
  /** Absolute directory that relative paths are resolved against. */
  dir: string;
  name: string;
  seed: number;
  /** The pipeline header's other settings (backend, workers, ...), defaults filled in. */
  settings: { [key: string]: JsonValue };
  /** In topological (execution) order. */
  stages: StageIR[];
}

/** A stage with its cache key: sha256 of canonical JSON of exactly what determines its output. */
export interface PlanStage {
  name: string;
  kind: StageKind;
  key: string;
  inputs: string[];
  params: { [key: string]: JsonValue };
  version: number;
  /** sha256 of the content of each file the stage reads, keyed by the path as written. */
  fileHashes: { [path: string]: string };
  /** Cache keys of the upstream stages, keyed by stage name. */
  upstreamKeys: { [name: string]: string };
}

export interface Plan {
  pipeline: string;
  seed: number;
  settings: { [key: string]: JsonValue };
  stages: PlanStage[];
}
