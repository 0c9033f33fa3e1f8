import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import type { EntryNode, StageNode } from '../ast.js';
import type { KeySchema } from '../../schema/index.js';
import type { ValidationContext } from './context.js';
import { didYouMean } from './suggest.js';
import { describeSchema, showValue, toJson, type RangeMap } from './values.js';

// One ajv for the process; each key's schema is compiled on first use and then reused, so the
// language server's per-keystroke validation never recompiles. strict is off because the schemas
// carry ftc's own x-* annotations (documented in src/schema/types.ts).
const ajv = new Ajv({ allErrors: true, strict: false, verbose: true });
const compiled = new WeakMap<KeySchema, ValidateFunction>();

function validatorFor(schema: KeySchema): ValidateFunction {
  let v = compiled.get(schema);
  if (!v) {
    v = ajv.compile(schema);
    compiled.set(schema, v);
  }
  return v;
}

const RANGE_KEYWORDS = new Set(['minimum', 'maximum', 'exclusiveMinimum', 'exclusiveMaximum', 'minItems', 'maxItems', 'minLength']);

/** Checks each known key's value against its schema: types (E0103), ranges (E0104), enums (E0105), nested keys. */
export function checkValues(stage: StageNode, ctx: ValidationContext): void {
  for (const entry of stage.entries) {
    const schema = ctx.keySchema(stage, entry.key);
    if (!schema || !entry.value) continue; // unknown keys and recovered syntax errors are reported elsewhere
    const validate = validatorFor(schema);
    if (validate(toJson(entry.value))) continue;
    // Where each part came from is only needed to point at an error: map it on failure only.
    const ranges: RangeMap = { values: new Map(), keys: new Map() };
    const errors = validate(toJson(entry.value, ranges)) ? [] : (validate.errors ?? []);
    reportErrors(stage, entry, schema, errors, ranges, ctx);
  }
}

function reportErrors(
  stage: StageNode,
  entry: EntryNode,
  schema: KeySchema,
  errors: ErrorObject[],
  ranges: RangeMap,
  ctx: ValidationContext,
): void {
  const where = `${stage.kind} '${stage.name}'`;
  // Nested blocks: unknown and missing keys are reported one by one.
  for (const e of errors) {
    if (e.keyword === 'additionalProperties') {
      const key = String(e.params.additionalProperty);
      const known = Object.keys((e.parentSchema as KeySchema).properties ?? {});
      const p = `${e.instancePath}/${key}`;
      const listed = known.length ? ` Known keys: ${known.join(', ')}.` : '';
      ctx.error('E0102', ranges.keys.get(p) ?? entry.keyRange, `${where}: ${entry.key}${dotted(e.instancePath)} has no key \`${key}\`.${didYouMean(key, known) || listed}`);
    } else if (e.keyword === 'required') {
      const key = String(e.params.missingProperty);
      ctx.error('E0106', ranges.values.get(e.instancePath) ?? entry.keyRange, `${where}: ${entry.key}${dotted(e.instancePath)} is missing the required key \`${key}\`.`);
    }
  }
  // Everything else: one diagnostic for the most specific failing place. oneOf produces an error per
  // branch; the deepest path is the one the user got closest to, e.g. the bad item of a list.
  const rest = errors.filter((e) => e.keyword !== 'additionalProperties' && e.keyword !== 'required' && e.keyword !== 'oneOf');
  if (rest.length === 0) {
    if (errors.some((e) => e.keyword === 'oneOf') && !errors.some((e) => e.keyword === 'additionalProperties' || e.keyword === 'required')) {
      ctx.error('E0103', entry.value!.range, `${where}: ${entry.key} must be ${describeSchema(schema)}.`);
    }
    return;
  }
  const depth = (e: ErrorObject): number => (e.instancePath === '' ? 0 : e.instancePath.split('/').length - 1);
  const deepest = Math.max(...rest.map(depth));
  const at = rest.filter((e) => depth(e) === deepest);
  const path = at[0]!.instancePath;
  const subject = path === '' ? schema : (at[0]!.parentSchema as KeySchema);
  const code = at.some((e) => RANGE_KEYWORDS.has(e.keyword)) ? 'E0104' : at.some((e) => e.keyword === 'enum' || e.keyword === 'const') && !at.some((e) => e.keyword === 'type') ? 'E0105' : 'E0103';
  const node = findNode(entry, path);
  const got = node ? ` (got ${showValue(node)})` : '';
  const options = subject.enum ?? (subject.oneOf ?? []).flatMap((s) => (typeof s.const === 'string' ? [s.const] : []));
  const hint = code === 'E0105' && typeof at[0]!.data === 'string' ? didYouMean(at[0]!.data, options.map(String)) : '';
  ctx.error(code, ranges.values.get(path) ?? entry.value!.range, `${where}: ${entry.key}${dotted(path)} must be ${describeSchema(subject)}${got}.${hint}`);
}

/** `/1/x` → `[1].x`, for messages about nested values. */
const dotted = (pointer: string): string =>
  pointer
    .split('/')
    .slice(1)
    .map((s) => (/^\d+$/.test(s) ? `[${s}]` : `.${s.replace(/~1/g, '/').replace(/~0/g, '~')}`))
    .join('');

function findNode(entry: EntryNode, pointer: string) {
  let node = entry.value;
  for (const seg of pointer.split('/').slice(1)) {
    if (node?.type === 'list') node = node.items[Number(seg)];
    else if (node?.type === 'block') node = node.entries.find((e) => e.key === seg.replace(/~1/g, '/').replace(/~0/g, '~'))?.value;
    else return undefined;
  }
  return node;
}
