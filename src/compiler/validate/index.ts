import type { FileNode } from '../ast.js';
import type { Diagnostic } from '../diagnostics.js';
import { ValidationContext, type ValidateOptions } from './context.js';
import { fileChecks, stageChecks } from './registry.js';

export { OVERRIDE_FILE, type ValidateOptions } from './context.js';
export { defaultPipelineName } from './checks-graph.js';

/** Runs every registered check over the file; returns diagnostics, never throws on user input. */
export function validate(ast: FileNode, opts: ValidateOptions): Diagnostic[] {
  const ctx = new ValidationContext(ast, opts);
  for (const stage of ast.stages) {
    for (const check of stageChecks['*']!) check(stage, ctx);
    if (Object.prototype.hasOwnProperty.call(stageChecks, stage.kind)) for (const check of stageChecks[stage.kind]!) check(stage, ctx);
  }
  for (const check of fileChecks) check(ast, ctx);
  return ctx.diagnostics;
}
