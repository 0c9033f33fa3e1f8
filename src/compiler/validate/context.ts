import { statSync, type Stats } from 'node:fs';
import { join, resolve } from 'node:path';
import type { EntryNode, FileNode, StageNode } from '../ast.js';
import type { Diagnostic, Severity, SourceRange } from '../diagnostics.js';
import { isFtcError, type FtcError } from '../../errors.js';
import { loadLlamaConfig, type LlamaConfig } from '../../model-spec/config.js';
import type { RunTarget } from '../../model-spec/quantization.js';
import { schemas, type KeySchema, type StageSchema } from '../../schema/index.js';

export interface ValidateOptions {
  /** Absolute directory that the pipeline's relative paths are resolved against. */
  dir: string;
  /** Stat the files the pipeline names and read the model's config.json (default true). */
  checkFiles?: boolean;
  /** Ranges that belong to `--set` overrides rather than to the file: diagnostics there name this file. */
  overrideRanges?: ReadonlySet<SourceRange>;
  /** What will run the pipeline (default `ftc run`'s embedded runtime): decides which quantizations are errors. */
  target?: RunTarget;
}

export const OVERRIDE_FILE = '<--set>';

/** What every check sees: the file, the stages by name, and one way to report. */
export class ValidationContext {
  readonly diagnostics: Diagnostic[] = [];
  /** The first stage of each name (the header excluded: its name is the pipeline's, not a stage's). */
  readonly byName = new Map<string, StageNode>();
  /** Stages referenced by at least one other stage (filled by the reference check). */
  readonly referenced = new Set<StageNode>();
  readonly checkFiles: boolean;
  readonly runTarget: RunTarget;

  constructor(
    readonly ast: FileNode,
    readonly opts: ValidateOptions,
  ) {
    this.checkFiles = opts.checkFiles ?? true;
    this.runTarget = opts.target ?? 'run';
    for (const s of ast.stages) if (s.kind !== 'pipeline' && !this.byName.has(s.name)) this.byName.set(s.name, s);
  }

  report(severity: Severity, code: string, range: SourceRange, message: string): void {
    const file = this.opts.overrideRanges?.has(range) ? OVERRIDE_FILE : this.ast.file;
    this.diagnostics.push({ file, severity, code, message, ...pick(range) });
  }
  error(code: string, range: SourceRange, message: string): void {
    this.report('error', code, range, message);
  }
  warning(code: string, range: SourceRange, message: string): void {
    this.report('warning', code, range, message);
  }
  /** A model-spec FtcError as a diagnostic at the key that causes it: its code, message, file and hint. */
  errorFrom(e: FtcError, range: SourceRange, subject: string): void {
    const file = e.where?.file ? ` (${e.where.file})` : '';
    this.error(e.code, range, `${subject}: ${e.message}${file}.${e.hint ? ` ${capitalize(e.hint)}.` : ''}`);
  }

  /** The YAML form has no identifiers: a plain scalar naming a stage is a string there. */
  get isYaml(): boolean {
    return /\.ya?ml$/i.test(this.ast.file);
  }

  schemaOf(stage: StageNode): StageSchema | undefined {
    return Object.prototype.hasOwnProperty.call(schemas, stage.kind) ? schemas[stage.kind] : undefined;
  }
  keySchema(stage: StageNode, key: string): KeySchema | undefined {
    const props = this.schemaOf(stage)?.properties;
    return props && Object.prototype.hasOwnProperty.call(props, key) ? props[key] : undefined;
  }
  /** The first entry of a key (later duplicates are reported and otherwise ignored). */
  entry(stage: StageNode, key: string): EntryNode | undefined {
    return stage.entries.find((e) => e.key === key);
  }
  /** The stage an `x-ref` key names, when it names one. */
  target(stage: StageNode, key: string): StageNode | undefined {
    const v = this.entry(stage, key)?.value;
    const name = v?.type === 'ident' ? v.name : v?.type === 'string' ? v.value : undefined;
    return name === undefined ? undefined : this.byName.get(name);
  }

  resolvePath(p: string): string {
    return resolve(this.opts.dir, p);
  }

  /**
   * The model stage's config.json as ftc's runtime will read it (src/model-spec/config.ts), or the
   * FtcError it raises; undefined when files are not checked or the path is not a directory (reported by `paths`).
   */
  modelSpec(model: StageNode): ModelSpecRead | undefined {
    const p = this.entry(model, 'path')?.value;
    if (!this.checkFiles || p?.type !== 'string') return undefined;
    const dir = this.resolvePath(p.value);
    return safeStat(dir)?.isDirectory() ? readModelSpec(dir) : undefined;
  }
  /** The parsed config only: undefined when it is unreadable or unsupported (reported at the model's path). */
  modelConfig(model: StageNode): LlamaConfig | undefined {
    const read = this.modelSpec(model);
    return read && 'config' in read ? read.config : undefined;
  }
}

const capitalize = (t: string): string => t.charAt(0).toUpperCase() + t.slice(1);

const pick = ({ line, column, endLine, endColumn }: SourceRange): SourceRange => ({ line, column, endLine, endColumn });

export type ModelSpecRead = { config: LlamaConfig; file: string } | { error: FtcError; file: string };

// The language server validates on every keystroke: read each config.json once per (size, mtime).
const configCache = new Map<string, { stamp: string; read: ModelSpecRead }>();

/** stat that never throws: ENOENT, ENOTDIR (a path through a file), EACCES... all mean "not usable here". */
export function safeStat(path: string): Stats | undefined {
  try {
    return statSync(path, { throwIfNoEntry: false });
  } catch {
    return undefined;
  }
}

/** loadLlamaConfig of a model directory, memoized by config.json's size and mtime; never throws on a user's file. */
export function readModelSpec(dir: string): ModelSpecRead {
  const file = join(dir, 'config.json');
  const st = safeStat(file);
  const stamp = st ? `${st.size}:${st.mtimeMs}` : 'missing';
  const hit = configCache.get(file);
  if (hit?.stamp === stamp) return hit.read;
  let read: ModelSpecRead;
  try {
    read = { config: loadLlamaConfig(dir), file };
  } catch (e) {
    if (!isFtcError(e)) throw e;
    read = { error: e, file };
  }
  configCache.set(file, { stamp, read });
  return read;
}
