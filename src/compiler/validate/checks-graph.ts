import { basename } from 'node:path';
import type { EntryNode, FileNode, StageNode } from '../ast.js';
import type { ValidationContext } from './context.js';
import { closest } from './suggest.js';

const label = (s: StageNode): string => `${s.kind} '${s.name}'`;
const article = (kind: string): string => (/^[aeiou]/.test(kind) ? `an ${kind}` : `a ${kind}`);

/** The pipeline's name when the header is missing: the file name without .ft / .ft.yaml. */
export const defaultPipelineName = (file: string): string => basename(file).replace(/(\.ft)?(\.ya?ml)?$/i, '').replace(/\.ft$/i, '') || 'pipeline';

/**
 * W0101 / E0109: exactly one `pipeline` header. A missing header is only a warning: the name
 * defaults to the file name and every header key to its schema default (seed 42).
 */
export function pipelineHeader(file: FileNode, ctx: ValidationContext): void {
  const headers = file.stages.filter((s) => s.kind === 'pipeline');
  if (headers.length === 0) {
    const at = file.stages[0]?.kindRange ?? { line: 1, column: 1, endLine: 1, endColumn: 1 };
    ctx.warning('W0101', at, `No pipeline header: using the name '${defaultPipelineName(file.file)}' and seed 42. Add \`pipeline NAME { seed = 42 }\` to make them explicit.`);
  }
  for (const extra of headers.slice(1)) {
    ctx.error('E0109', extra.kindRange, `A second pipeline header (the first is '${headers[0]!.name}' on line ${headers[0]!.range.line}); merge them into one.`);
  }
}

/** E0203: stage names are unique (the header's name is the pipeline's, not a stage's). */
export function duplicateStageNames(file: FileNode, ctx: ValidationContext): void {
  for (const s of file.stages) {
    if (s.kind === 'pipeline') continue;
    const first = ctx.byName.get(s.name)!;
    if (first !== s) ctx.error('E0203', s.nameRange, `Stage name '${s.name}' is already used by the ${first.kind} stage on line ${first.nameRange.line}; rename one of them.`);
  }
}

/** The x-ref entries of a stage, in source order. */
export function refEntries(stage: StageNode, ctx: ValidationContext): EntryNode[] {
  return stage.entries.filter((e) => ctx.keySchema(stage, e.key)?.['x-ref'] && e.value);
}

/** E0201 / E0202 / E0205: each reference names an existing stage of an accepted kind, as an identifier. */
export function references(stage: StageNode, ctx: ValidationContext): void {
  if (!ctx.schemaOf(stage)) {
    // An unknown kind (already reported): whatever it names is used, so nothing cascades into W0201.
    for (const e of stage.entries) if (e.value?.type === 'ident' && ctx.byName.has(e.value.name)) ctx.referenced.add(ctx.byName.get(e.value.name)!);
    return;
  }
  for (const e of refEntries(stage, ctx)) {
    const kinds = ctx.keySchema(stage, e.key)!['x-ref']!;
    const v = e.value!;
    let name: string;
    if (v.type === 'ident') name = v.name;
    else if (v.type === 'string' && ctx.isYaml) name = v.value;
    else if (v.type === 'string') {
      ctx.error('E0205', v.range, `${label(stage)}: ${e.key} names a stage, so write it without quotes: \`${e.key} = ${v.value}\`.`);
      name = v.value;
    } else continue; // a list or number: the type check already reported it
    const target = ctx.byName.get(name);
    if (!target) {
      const sameKind = [...ctx.byName.values()].filter((s) => kinds.includes(s.kind)).map((s) => s.name);
      const guess = closest(name, ctx.byName.keys());
      const hint = guess ? ` Did you mean '${guess}'?` : sameKind.length ? ` ${cap(kinds.join(' or '))} stages: ${sameKind.join(', ')}.` : ` Define ${article(kinds[0]!)} stage and name it here.`;
      ctx.error('E0201', v.range, `${label(stage)}: ${e.key} refers to '${name}', but no stage has that name.${hint}`);
      continue;
    }
    ctx.referenced.add(target);
    if (!kinds.includes(target.kind) && ctx.schemaOf(target)) {
      ctx.error('E0202', v.range, `${label(stage)}: ${e.key} must name ${kinds.map(article).join(' or ')} stage, but '${name}' is ${article(target.kind)}.`);
    }
  }
}

const cap = (s: string): string => s.charAt(0).toUpperCase() + s.slice(1);

/**
 * E0204: the graph is acyclic. Tarjan's strongly connected components, iteratively (a
 * 5,000-stage chain must not overflow the stack), linear in stages + references.
 */
export function referenceCycles(file: FileNode, ctx: ValidationContext): void {
  const stages = file.stages.filter((s) => s.kind !== 'pipeline' && ctx.byName.get(s.name) === s);
  const edges = new Map<StageNode, { to: StageNode; entry: EntryNode }[]>();
  for (const s of stages) {
    const out = [];
    for (const e of refEntries(s, ctx)) {
      const to = ctx.target(s, e.key);
      if (to && to.kind !== 'pipeline') out.push({ to, entry: e });
    }
    edges.set(s, out);
  }
  const position = new Map(stages.map((s, i) => [s, i]));
  for (const scc of stronglyConnected(stages, (s) => edges.get(s)!.map((x) => x.to))) {
    if (scc.length === 1 && !edges.get(scc[0]!)!.some((x) => x.to === scc[0])) continue;
    const members = new Set(scc);
    const start = scc.reduce((a, b) => (position.get(a)! <= position.get(b)! ? a : b)); // the first in source order
    const path = shortestCycle(start, members, (s) => edges.get(s)!.map((x) => x.to));
    const edge = edges.get(start)!.find((x) => x.to === (path[1] ?? start))!;
    ctx.error('E0204', edge.entry.value!.range, `Cycle: ${[...path, start].map((s) => s.name).join(' → ')}. A stage cannot depend on its own output; remove one of these references.`);
  }
}

function stronglyConnected<T>(nodes: T[], next: (n: T) => T[]): T[][] {
  const index = new Map<T, number>();
  const low = new Map<T, number>();
  const onStack = new Set<T>();
  const stack: T[] = [];
  const out: T[][] = [];
  let counter = 0;
  for (const root of nodes) {
    if (index.has(root)) continue;
    const work: { node: T; succ: T[]; i: number }[] = [];
    const enter = (n: T) => {
      index.set(n, counter);
      low.set(n, counter++);
      stack.push(n);
      onStack.add(n);
      work.push({ node: n, succ: next(n), i: 0 });
    };
    enter(root);
    while (work.length) {
      const top = work[work.length - 1]!;
      if (top.i < top.succ.length) {
        const w = top.succ[top.i++]!;
        if (!index.has(w)) enter(w);
        else if (onStack.has(w)) low.set(top.node, Math.min(low.get(top.node)!, index.get(w)!));
        continue;
      }
      work.pop();
      if (work.length) {
        const parent = work[work.length - 1]!.node;
        low.set(parent, Math.min(low.get(parent)!, low.get(top.node)!));
      }
      if (low.get(top.node) === index.get(top.node)) {
        const comp: T[] = [];
        let w: T;
        do {
          w = stack.pop()!;
          onStack.delete(w);
          comp.push(w);
        } while (w !== top.node);
        out.push(comp);
      }
    }
  }
  return out;
}

/** Breadth-first from start back to start inside its component: the cycle to show. */
function shortestCycle<T>(start: T, members: Set<T>, next: (n: T) => T[]): T[] {
  const parent = new Map<T, T>();
  const queue: T[] = [start];
  for (let q = 0; q < queue.length; q++) {
    const n = queue[q]!;
    for (const w of next(n)) {
      if (w === start) {
        const path = [n];
        while (path[path.length - 1] !== start) path.push(parent.get(path[path.length - 1]!)!);
        return path.reverse();
      }
      if (members.has(w) && !parent.has(w)) {
        parent.set(w, n);
        queue.push(w);
      }
    }
  }
  return [start];
}

const TERMINAL_KINDS = new Set(['trainer', 'export']);

/**
 * W0201: in a pipeline that trains or exports, a stage nothing uses is probably a leftover or the
 * target of a misspelt reference. A pipeline without a trainer (say, data preparation only) is not warned.
 */
export function unusedStages(file: FileNode, ctx: ValidationContext): void {
  if (!file.stages.some((s) => TERMINAL_KINDS.has(s.kind))) return;
  for (const s of file.stages) {
    if (s.kind === 'pipeline' || TERMINAL_KINDS.has(s.kind) || !ctx.schemaOf(s) || ctx.referenced.has(s)) continue;
    if (ctx.byName.get(s.name) !== s) continue;
    ctx.warning('W0201', s.nameRange, `${label(s)} is not used by any other stage; reference it or remove it.`);
  }
}
