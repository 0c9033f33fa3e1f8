import type { JsonValue } from '../../ir.js';

/** A value for generated Python: JSON data, or an expression written as is (`torch.bfloat16`, `str(output)`). */
export type Py = JsonValue | { expr: string };

export const expr = (text: string): Py => ({ expr: text });

/**
 * A Python literal. Strings go through JSON.stringify: its escapes (\n, \", \uXXXX) are valid in a
 * Python string literal too; true/false/null become True/False/None.
 */
export function py(v: Py): string {
  if (v === null) return 'None';
  if (typeof v === 'boolean') return v ? 'True' : 'False';
  if (typeof v === 'number') {
    if (!Number.isFinite(v)) throw new Error(`py: ${v} has no Python literal here`);
    return String(v);
  }
  if (typeof v === 'string') return JSON.stringify(v);
  if (Array.isArray(v)) return `[${v.map(py).join(', ')}]`;
  if ('expr' in v && typeof v.expr === 'string' && Object.keys(v).length === 1) return v.expr;
  return `{${Object.entries(v as Record<string, JsonValue>).map(([k, x]) => `${JSON.stringify(k)}: ${py(x)}`).join(', ')}}`;
}

/** `name=value` keyword arguments, one per line, indented for a call that spans lines. */
export function kwargs(args: Record<string, Py>, indent: string): string {
  return Object.entries(args).map(([k, v]) => `${indent}${k}=${py(v)},`).join('\n');
}
