import { readFileSync, statSync, type Stats } from 'node:fs';
import { join, resolve } from 'node:path';
import type { EntryNode, FileNode, StageNode } from '../ast.js';
import type { Diagnostic, Severity, SourceRange } from '../diagnostics.js';
import { schemas, type KeySchema, type StageSchema } from '../../schema/index.js';

export interface ValidateOptions {
  /** Absolute directory that the pipeline's relative paths are resolved against. */
  dir: string;
  /** Stat the files the pipeline names and read the model's config.json (default true). */
  checkFiles?: boolean;
  /** Ranges that belong to `--set` overrides rather than to the file: diagnostics there name this file. */
  overrideRanges?: ReadonlySet<SourceRange>;
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

  constructor(
    readonly ast: FileNode,
    readonly opts: ValidateOptions,
  ) {
    this.checkFiles = opts.checkFiles ?? true;
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

  /** The model stage's config.json, parsed; undefined when files are not checked or it is unreadable (reported elsewhere). */
  modelConfig(model: StageNode): Record<string, unknown> | undefined {
    const p = this.entry(model, 'path')?.value;
    if (!this.checkFiles || p?.type !== 'string') return undefined;
    const read = readConfig(join(this.resolvePath(p.value), 'config.json'));
    return read.ok ? read.config : undefined;
  }
}

const pick = ({ line, column, endLine, endColumn }: SourceRange): SourceRange => ({ line, column, endLine, endColumn });

export type ConfigRead = { ok: true; config: Record<string, unknown> } | { ok: false; missing: boolean; reason: string };

// The language server validates on every keystroke: read each config.json once per (size, mtime).
const configCache = new Map<string, { stamp: string; read: ConfigRead }>();

/** stat that never throws: ENOENT, ENOTDIR (a path through a file), EACCES... all mean "not usable here". */
export function safeStat(path: string): Stats | undefined {
  try {
    return statSync(path, { throwIfNoEntry: false });
  } catch {
    return undefined;
  }
}

/** Reads a JSON object from disk; never throws (a user's file may be missing or malformed). */
export function readConfig(path: string): ConfigRead {
  const st = safeStat(path);
  if (!st || !st.isFile()) return { ok: false, missing: true, reason: 'missing' };
  const stamp = `${st.size}:${st.mtimeMs}`;
  const hit = configCache.get(path);
  if (hit?.stamp === stamp) return hit.read;
  let read: ConfigRead;
  try {
    const parsed: unknown = JSON.parse(readFileSync(path, 'utf8'));
    read =
      parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed)
        ? { ok: true, config: parsed as Record<string, unknown> }
        : { ok: false, missing: false, reason: 'is not a JSON object' };
  } catch (e) {
    read = { ok: false, missing: false, reason: `is not valid JSON (${(e as Error).message})` };
  }
  configCache.set(path, { stamp, read });
  return read;
}
