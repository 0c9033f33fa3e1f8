import { existsSync, realpathSync } from 'node:fs';
import { basename, dirname, join, relative, resolve, sep } from 'node:path';
import type { FileNode, StageNode, ValueNode } from '../ast.js';
import { defaultCacheDir } from '../../cache-location.js';
import type { ValidationContext } from './context.js';

/**
 * What ftc writes must never be what it reads: an output that is, contains, or lies inside an
 * input of the pipeline would be replaced by the run (or would replace the run's own inputs),
 * and two stages writing one output would overwrite each other. Both are reported at the output.
 */
const OUTPUT_KEY = 'output';
type StringNode = Extract<ValueNode, { type: 'string' }>;
const label = (s: StageNode): string => `${s.kind} '${s.name}'`;

interface Place {
  /** Canonical absolute path (symlinks resolved as far as the path exists). */
  path: string;
  what: string;
}

/** realpath of the longest existing prefix, the rest appended: `a/link/new` → `a/target/new`. */
function canonical(p: string): string {
  const rest: string[] = [];
  let at = resolve(p);
  for (;;) {
    if (existsSync(at)) {
      try {
        return join(realpathSync(at), ...rest.reverse());
      } catch {
        return join(at, ...rest.reverse());
      }
    }
    const up = dirname(at);
    if (up === at) return join(at, ...rest.reverse());
    rest.push(basename(at));
    at = up;
  }
}

const inside = (child: string, parent: string): boolean => child.startsWith(parent.endsWith(sep) ? parent : parent + sep);

function relation(output: string, input: string): string | undefined {
  if (output === input) return 'is';
  if (inside(input, output)) return 'contains';
  if (inside(output, input)) return 'lies inside';
  return undefined;
}

function outputsOf(ast: FileNode, ctx: ValidationContext): { stage: StageNode; value: StringNode; path: string }[] {
  const out: { stage: StageNode; value: StringNode; path: string }[] = [];
  for (const stage of ast.stages) {
    if (!ctx.keySchema(stage, OUTPUT_KEY)) continue;
    const v = ctx.entry(stage, OUTPUT_KEY)?.value;
    if (v?.type === 'string' && v.value.trim() !== '') out.push({ stage, value: v, path: canonical(ctx.resolvePath(v.value)) });
  }
  return out;
}

function inputsOf(ast: FileNode, ctx: ValidationContext): Place[] {
  const places: Place[] = [
    { path: canonical(ctx.resolvePath(basename(ast.file))), what: `the pipeline file ${basename(ast.file)}` },
    { path: canonical(resolve(ctx.opts.dir, defaultCacheDir(ctx.opts.dir))), what: 'the artifact cache' },
  ];
  for (const stage of ast.stages) {
    for (const e of stage.entries) {
      if (!ctx.keySchema(stage, e.key)?.['x-path'] || e.value?.type !== 'string') continue;
      places.push({ path: canonical(ctx.resolvePath(e.value.value)), what: `${label(stage)}'s ${e.key} "${e.value.value}"` });
    }
  }
  return places;
}

/** E0350: an output that is, contains or lies inside an input (data, model, tokenizer, template, the pipeline file, the cache). */
export function outputsApartFromInputs(ast: FileNode, ctx: ValidationContext): void {
  if (!ctx.checkFiles) return;
  const inputs = inputsOf(ast, ctx);
  for (const o of outputsOf(ast, ctx)) {
    // One diagnostic per output, naming the closest overlap: being an input says more than containing one.
    const overlaps = inputs.map((input) => ({ input, rel: relation(o.path, input.path) })).filter((x) => x.rel !== undefined);
    const worst = overlaps.find((x) => x.rel === 'is') ?? overlaps[0];
    if (!worst) continue;
    ctx.error('E0350', o.value.range,
      `${label(o.stage)}: output "${o.value.value}" ${worst.rel} ${worst.input.what}; ftc replaces its outputs, so an output must be a path of its own, apart from every input (e.g. output = "${o.stage.name}-out").`);
  }
}

/** E0351: two stages writing the same output, or one inside the other's. */
export function outputsDistinct(ast: FileNode, ctx: ValidationContext): void {
  const seen: { stage: StageNode; path: string; line: number }[] = [];
  for (const o of outputsOf(ast, ctx)) {
    const clash = seen.find((s) => relation(o.path, s.path));
    if (clash) {
      const rel = relation(o.path, clash.path)!;
      const shown = relative(ctx.opts.dir, clash.path) || '.';
      ctx.error('E0351', o.value.range,
        `${label(o.stage)}: output "${o.value.value}" ${rel === 'is' ? 'is also' : `${rel}`} the output of ${label(clash.stage)} ("${shown}", line ${clash.line}); give each stage an output of its own.`);
    } else seen.push({ stage: o.stage, path: o.path, line: o.value.range.line });
  }
}
