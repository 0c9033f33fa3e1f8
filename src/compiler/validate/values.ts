import type { ValueNode } from '../ast.js';
import type { SourceRange } from '../diagnostics.js';
import type { JsonValue } from '../ir.js';
import type { KeySchema } from '../../schema/index.js';

type AnySchema = Omit<KeySchema, 'description'> & { description?: string };

/** Where each JSON pointer of a converted value came from, so ajv's errors can point into the source. */
export interface RangeMap {
  values: Map<string, SourceRange>;
  keys: Map<string, SourceRange>;
}

/**
 * The JSON a value denotes. An identifier becomes its name: the schema decides whether it is an
 * enum member, a free string or a stage reference. A block's later duplicate keys are ignored here
 * (the duplicate-key check reports them).
 */
export function toJson(v: ValueNode, ranges?: RangeMap, pointer = ''): JsonValue {
  ranges?.values.set(pointer, v.range);
  switch (v.type) {
    case 'string':
    case 'number':
    case 'boolean':
      return v.value;
    case 'ident':
      return v.name;
    case 'list':
      return v.items.map((item, i) => toJson(item, ranges, `${pointer}/${i}`));
    case 'block': {
      const obj: { [k: string]: JsonValue } = {};
      for (const e of v.entries) {
        if (e.value === undefined || Object.prototype.hasOwnProperty.call(obj, e.key)) continue;
        const p = `${pointer}/${escapePointer(e.key)}`;
        ranges?.keys.set(p, e.keyRange);
        obj[e.key] = toJson(e.value, ranges, p);
      }
      return obj;
    }
  }
}

const escapePointer = (k: string): string => k.replace(/~/g, '~0').replace(/\//g, '~1');

/** How a value reads in a message: strings quoted, identifiers bare, containers by shape. */
export function showValue(v: ValueNode): string {
  switch (v.type) {
    case 'string':
      return JSON.stringify(v.value);
    case 'number':
      return v.raw;
    case 'boolean':
      return String(v.value);
    case 'ident':
      return v.name;
    case 'list':
      return 'a list';
    case 'block':
      return 'a block';
  }
}

const showConst = (c: unknown): string => (typeof c === 'string' && /^[A-Za-z_][\w-]*$/.test(c) ? c : JSON.stringify(c));

/** "an integer ≥ 1", "one of none, all, lora_only", "a list of ... or all-linear": what a schema accepts, in words. */
export function describeSchema(s: AnySchema): string {
  if (s.oneOf) return s.oneOf.map(describeSchema).join(' or ');
  if (s.const !== undefined) return showConst(s.const);
  if (s.enum) return `one of ${s.enum.map(showConst).join(', ')}`;
  switch (s.type) {
    case 'integer':
    case 'number':
      return `${s.type === 'integer' ? 'an integer' : 'a number'}${describeRange(s)}`;
    case 'boolean':
      return 'true or false';
    case 'string':
      return 'a string';
    case 'array':
      return `${s.minItems ? 'a non-empty list' : 'a list'}${s.items ? ` of ${plural(describeSchema(s.items))}` : ''}`;
    case 'object':
      return s.properties ? `a block with keys ${Object.keys(s.properties).join(', ')}` : 'a block of key = value entries';
    default:
      return 'a value';
  }
}

const plural = (d: string): string => d.replace(/^an? (integer|number|string)/, '$1s').replace(/^one of /, 'names among ');

function describeRange(s: AnySchema): string {
  const lo = s.minimum ?? s.exclusiveMinimum;
  const hi = s.maximum ?? s.exclusiveMaximum;
  if (lo !== undefined && hi !== undefined) {
    return ` in ${s.minimum !== undefined ? '[' : '('}${lo}, ${hi}${s.maximum !== undefined ? ']' : ')'}`;
  }
  if (s.minimum !== undefined) return ` ≥ ${s.minimum}`;
  if (s.exclusiveMinimum !== undefined) return ` > ${s.exclusiveMinimum}`;
  if (s.maximum !== undefined) return ` ≤ ${s.maximum}`;
  if (s.exclusiveMaximum !== undefined) return ` < ${s.exclusiveMaximum}`;
  return '';
}
