import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { FtcError } from '../errors.js';
import type { RunTarget } from '../model-spec/quantization.js';
import type { FileNode } from './ast.js';
import type { Diagnostic } from './diagnostics.js';
import { hasErrors } from './diagnostics.js';
import type { PipelineIR } from './ir.js';
import { buildIR } from './ir-build.js';
import { applyOverrides } from './overrides.js';
import { parseSource } from './parse.js';
import { TOO_DEEP } from './nesting.js';
import { validate } from './validate/index.js';

export { planPipeline, planHash, hashPathContent, type PlanOptions } from './plan.js';
export { renderGraph, toDot, toMermaid, toText, GRAPH_FORMATS, type GraphFormat } from './graph.js';
export { formatFt, formatYaml, toFt } from './format.js';
export { parseFt, parseSource, isYamlFile } from './parse.js';
export { parseYaml } from './yaml.js';
export { canonicalJson, hashJson } from './canonical-json.js';
export { OVERRIDE_FILE } from './validate/index.js';
export { hasErrors } from './diagnostics.js';

export interface CompileOptions {
  /** `stage.key=value` overrides, validated like the file. */
  overrides?: readonly string[];
  /** Check that the files the pipeline names exist and read the model's config.json (default true). */
  checkFiles?: boolean;
  /** What will run the pipeline (default `ftc run`): a quantization only another target can train is an error. */
  target?: RunTarget;
  /** Build the IR when there are no errors (default true); the language server needs diagnostics only. */
  buildIr?: boolean;
  /** Build the IR despite errors of these codes: `ftc plan` shows the estimate of a pipeline that does not fit (E_MEMORY_PLAN). */
  buildIrDespite?: readonly string[];
}

export interface CompileResult {
  /** Every problem found, sorted by file then position. */
  diagnostics: Diagnostic[];
  ast: FileNode;
  /** Present only when there are no errors (but those of `buildIrDespite`). */
  ir?: PipelineIR;
}

/**
 * The compiler: text → diagnostics + IR. Synchronous and cheap, so the language server can call it
 * on every keystroke; never throws on user input. Relative paths resolve against the file's directory.
 */
export function compile(text: string, file: string, opts: CompileOptions = {}): CompileResult {
  const abs = resolve(file);
  const dir = dirname(abs);
  // 1. lex + parse + build the AST (.ft or .ft.yaml by extension)
  const parsed = parseSource(text, file);
  // 2. apply --set overrides to a copy of the AST
  const over = applyOverrides(parsed.ast, opts.overrides ?? []);
  // 3. validate: every registered check
  // A file too deeply nested to read has no AST worth validating: its one diagnostic says why.
  const unread = parsed.diagnostics.some((d) => d.code === TOO_DEEP);
  const checked = unread ? [] : validate(over.ast, { dir, checkFiles: opts.checkFiles, overrideRanges: over.ranges, target: opts.target });
  const diagnostics = sortDiagnostics([...parsed.diagnostics, ...over.diagnostics, ...checked]);
  // 4. build the IR, only from an error-free AST (errors of buildIrDespite's codes aside)
  const blocking = diagnostics.filter((d) => !opts.buildIrDespite?.includes(d.code));
  const ir = hasErrors(blocking) || opts.buildIr === false ? undefined : buildIR(over.ast, abs, dir);
  return { diagnostics, ast: over.ast, ir };
}

/** Reads and compiles a pipeline file; an unreadable file is an FtcError (the CLI's usage error). */
export function compileFile(path: string, opts: CompileOptions = {}): CompileResult & { text: string } {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    const why = (e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (e as Error).message;
    throw new FtcError('E0300', `cannot read pipeline file ${path}: ${why}`, { file: path }, 'Check the path; pipeline files end in .ft or .ft.yaml.');
  }
  return { ...compile(text, path, opts), text };
}

function sortDiagnostics(ds: Diagnostic[]): Diagnostic[] {
  return ds
    .map((d, i) => ({ d, i }))
    .sort((a, b) => (a.d.file === b.d.file ? 0 : a.d.file < b.d.file ? -1 : 1) || a.d.line - b.d.line || a.d.column - b.d.column || a.i - b.i)
    .map((x) => x.d);
}
