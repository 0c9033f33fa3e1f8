import { compileFile, hasErrors, OVERRIDE_FILE, type CompileResult } from '../compiler/index.js';
import type { PipelineIR } from '../compiler/ir.js';
import { isFtcError } from '../errors.js';
import type { RunTarget } from '../model-spec/quantization.js';
import { formatError } from './output.js';
import { printDiagnostics, type Sources } from './diagnostics-print.js';

/** `--set` is repeatable: each occurrence adds one override. */
export const collect = (v: string, acc: string[]): string[] => [...acc, v];

export interface Compiled {
  results: (CompileResult & { file: string })[];
  sources: Sources;
}

/**
 * Compiles each file for a command. A file that cannot be read is a usage error: it is printed
 * and undefined comes back, with exit code 2 set (ftc's convention: 0 ok, 1 errors in the input, 2 usage).
 */
export function compileForCli(files: readonly string[], overrides: readonly string[], checkFiles = true, target?: RunTarget, buildIrDespite?: readonly string[]): Compiled | undefined {
  const sources = new Map<string, string>([[OVERRIDE_FILE, overrides.join('\n')]]);
  const results: Compiled['results'] = [];
  for (const file of files) {
    try {
      const r = compileFile(file, { overrides, checkFiles, target, buildIrDespite });
      sources.set(file, r.text);
      results.push({ ...r, file });
    } catch (e) {
      if (!isFtcError(e)) throw e;
      process.stderr.write(formatError(e) + '\n');
      process.exitCode = 2;
      return undefined;
    }
  }
  return { results, sources };
}

/**
 * Compiles the one pipeline a command works on, printing its diagnostics (as text, on stderr).
 * Its IR comes back when there are no errors, or only errors of `despite`'s codes (then exit code 1 is
 * set all the same); otherwise undefined, with exit code 1 (errors in the input) or 2 (the file could
 * not be read) set.
 */
export function compilePipelineForCli(file: string, overrides: readonly string[], checkFiles = true, target?: RunTarget, despite?: readonly string[]): PipelineIR | undefined {
  const compiled = compileForCli([file], overrides, checkFiles, target, despite);
  if (!compiled) return undefined;
  const r = compiled.results[0]!;
  if (r.diagnostics.length) process.stderr.write(printDiagnostics(r.diagnostics, compiled.sources, 'text'));
  if (hasErrors(r.diagnostics)) process.exitCode = 1;
  return r.ir;
}
