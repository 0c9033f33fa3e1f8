import type { FileNode, StageNode } from './ast.js';
import type { JsonValue, PipelineIR, StageIR, StageKind } from './ir.js';
import { schemas, type KeySchema, type StageSchema } from '../schema/index.js';
import { defaultPipelineName } from './validate/index.js';
import { toJson } from './validate/values.js';

type Params = { [key: string]: JsonValue };

/** A deep copy of a schema default, so no two stages share (and could mutate) one array; scalars as they are. */
const copy = (v: unknown): JsonValue => (v !== null && typeof v === 'object' ? (JSON.parse(JSON.stringify(v)) as JsonValue) : (v as JsonValue));

/** A schema's keys, listed once per process rather than once per stage (5,000-stage pipelines). */
const entriesOf = new WeakMap<object, [string, KeySchema][]>();
function keysOf(props: Record<string, KeySchema>): [string, KeySchema][] {
  let list = entriesOf.get(props);
  if (!list) entriesOf.set(props, (list = Object.entries(props)));
  return list;
}

/** The entries as JSON with defaults filled in, nested blocks included; `inherited` supplies x-inherit keys. */
function resolveParams(stage: StageNode | undefined, schema: StageSchema, inherited: Params): Params {
  const given = new Map<string, JsonValue>();
  for (const e of stage?.entries ?? []) if (e.value && !given.has(e.key)) given.set(e.key, toJson(e.value));
  const params: Params = {};
  for (const [key, s] of keysOf(schema.properties)) {
    const v = given.has(key) ? given.get(key)! : s['x-inherit'] !== undefined ? inherited[s['x-inherit']] : s.default !== undefined ? copy(s.default) : undefined;
    if (v !== undefined) params[key] = fillNested(v, s);
  }
  return params;
}

/** Defaults of a nested block's keys (tokenizer `train { vocab_size }`). */
function fillNested(v: JsonValue, s: KeySchema): JsonValue {
  if (!s.properties || v === null || typeof v !== 'object' || Array.isArray(v)) return v;
  const out: Params = { ...v };
  for (const [k, sub] of keysOf(s.properties)) {
    if (out[k] === undefined && sub.default !== undefined) out[k] = copy(sub.default);
    else if (out[k] !== undefined) out[k] = fillNested(out[k]!, sub);
  }
  return out;
}

/**
 * Validated AST → PipelineIR: parameters with defaults and the header's inherited keys, references as
 * stage names, and stages in execution order. Call only when validation reported no errors.
 */
export function buildIR(ast: FileNode, file: string, dir: string): PipelineIR {
  const header = ast.stages.find((s) => s.kind === 'pipeline');
  const settings = resolveParams(header, schemas.pipeline!, {});
  const seed = settings.seed as number;
  delete settings.seed;
  const stages = ast.stages
    .filter((s) => s.kind !== 'pipeline')
    .map((s): StageIR => {
      const schema = schemas[s.kind]!;
      const params = resolveParams(s, schema, { seed });
      const keys = keysOf(schema.properties);
      return {
        name: s.name,
        kind: s.kind as StageKind,
        params,
        inputs: keys.filter(([k, ks]) => ks['x-ref'] && typeof params[k] === 'string').map(([k]) => params[k] as string),
        files: keys.filter(([k, ks]) => ks['x-path'] && typeof params[k] === 'string').map(([k]) => params[k] as string),
        range: s.range,
      };
    });
  return { file, dir, name: header?.name ?? defaultPipelineName(file), seed, settings, stages: topologicalOrder(stages) };
}

/**
 * Kahn's algorithm with a min-heap on source position: a stage runs as soon as its inputs have,
 * and among ready stages the one written first goes first. O((V + E) log V).
 */
export function topologicalOrder(stages: StageIR[]): StageIR[] {
  const position = new Map(stages.map((s, i) => [s.name, i]));
  const waiting = stages.map((s) => new Set(s.inputs).size);
  const dependents: number[][] = stages.map(() => []);
  stages.forEach((s, i) => new Set(s.inputs).forEach((n) => dependents[position.get(n)!]!.push(i)));
  const heap = new MinHeap();
  waiting.forEach((w, i) => w === 0 && heap.push(i));
  const order: StageIR[] = [];
  for (let i = heap.pop(); i !== undefined; i = heap.pop()) {
    order.push(stages[i]!);
    for (const d of dependents[i]!) if (--waiting[d]! === 0) heap.push(d);
  }
  if (order.length !== stages.length) throw new Error('topologicalOrder: cycle in a validated pipeline');
  return order;
}

class MinHeap {
  private readonly a: number[] = [];
  push(x: number): void {
    const a = this.a;
    a.push(x);
    for (let i = a.length - 1; i > 0; ) {
      const p = (i - 1) >> 1;
      if (a[p]! <= a[i]!) break;
      [a[p], a[i]] = [a[i]!, a[p]!];
      i = p;
    }
  }
  pop(): number | undefined {
    const a = this.a;
    if (a.length === 0) return undefined;
    const top = a[0];
    const last = a.pop()!;
    if (a.length) {
      a[0] = last;
      for (let i = 0; ; ) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < a.length && a[l]! < a[m]!) m = l;
        if (r < a.length && a[r]! < a[m]!) m = r;
        if (m === i) break;
        [a[m], a[i]] = [a[i]!, a[m]!];
        i = m;
      }
    }
    return top;
  }
}
