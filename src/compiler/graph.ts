import type { PipelineIR } from './ir.js';

export type GraphFormat = 'mermaid' | 'dot' | 'text';
export const GRAPH_FORMATS: readonly GraphFormat[] = ['mermaid', 'dot', 'text'];

/** Edges upstream → downstream, in execution order, each pair once. */
function edges(ir: PipelineIR): [string, string][] {
  const out: [string, string][] = [];
  for (const s of ir.stages) for (const from of new Set(s.inputs)) out.push([from, s.name]);
  return out;
}

/** Mermaid `graph LR`, like the seed guide's diagram: `name[kind: name]` nodes, `-->` edges. */
export function toMermaid(ir: PipelineIR): string {
  const lines = ['graph LR'];
  for (const s of ir.stages) lines.push(`    ${s.name}["${s.kind}: ${s.name}"]`);
  for (const [a, b] of edges(ir)) lines.push(`    ${a} --> ${b}`);
  return lines.join('\n') + '\n';
}

const dotId = (s: string): string => JSON.stringify(s);

/** Graphviz dot, left to right, one box per stage. */
export function toDot(ir: PipelineIR): string {
  const lines = [`digraph ${dotId(ir.name)} {`, '  rankdir=LR;', '  node [shape=box];'];
  for (const s of ir.stages) lines.push(`  ${dotId(s.name)} [label=${dotId(`${s.kind}: ${s.name}`)}];`);
  for (const [a, b] of edges(ir)) lines.push(`  ${dotId(a)} -> ${dotId(b)};`);
  lines.push('}');
  return lines.join('\n') + '\n';
}

/** Plain text: stages in execution order, each with the stages it reads from. */
export function toText(ir: PipelineIR): string {
  const width = Math.max(0, ...ir.stages.map((s) => s.kind.length + s.name.length + 1));
  const lines = [`pipeline ${ir.name}`];
  for (const s of ir.stages) {
    const head = `${s.kind} ${s.name}`.padEnd(width);
    lines.push(`  ${head}${s.inputs.length ? `  <- ${[...new Set(s.inputs)].join(', ')}` : ''}`.trimEnd());
  }
  return lines.join('\n') + '\n';
}

export function renderGraph(ir: PipelineIR, format: GraphFormat): string {
  return format === 'mermaid' ? toMermaid(ir) : format === 'dot' ? toDot(ir) : toText(ir);
}
