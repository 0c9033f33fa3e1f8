import type { StageNode } from '../compiler/ast.js';
import type { ValueNode } from '../compiler/ast.js';
import { scalar } from '../compiler/format.js';
import { describeSchema } from '../compiler/validate/values.js';
import { schemas, type KeySchema, type StageSchema } from '../schema/index.js';

/**
 * Schema lookups and the markdown that completion and hover show for a key. Everything an editor
 * says about a key comes from src/schema, the same declaration that validates it.
 */

const has = (o: object, k: string): boolean => Object.prototype.hasOwnProperty.call(o, k);

export function stageSchema(kind: string): StageSchema | undefined {
  return has(schemas, kind) ? schemas[kind] : undefined;
}

/** The schema of `path` inside a stage of `kind`: ['train', 'vocab_size'] walks into nested blocks. */
export function keySchemaAt(kind: string, path: readonly string[]): KeySchema | undefined {
  let props: Record<string, KeySchema> | undefined = stageSchema(kind)?.properties;
  let found: KeySchema | undefined;
  for (const key of path) {
    if (!props || !has(props, key)) return undefined;
    found = props[key];
    props = found?.properties;
  }
  return found;
}

/** The keys one may write at `path` (the stage itself when empty). */
export function keysAt(kind: string, path: readonly string[]): Record<string, KeySchema> {
  if (path.length === 0) return stageSchema(kind)?.properties ?? {};
  return keySchemaAt(kind, path)?.properties ?? {};
}

/** Enum members and constants a value may take, top level (the default first when it is one). */
export function allowedValues(s: KeySchema): string[] {
  const out: string[] = [];
  const add = (v: unknown): void => {
    if (typeof v === 'string' || typeof v === 'number') out.push(String(v));
  };
  s.enum?.forEach(add);
  if (s.const !== undefined) add(s.const);
  for (const alt of s.oneOf ?? []) {
    alt.enum?.forEach(add);
    if (alt.const !== undefined) add(alt.const);
  }
  return [...new Set(out)];
}

/** The values a list item may take (`target_modules = [q_proj, ...]`). */
export function allowedItems(s: KeySchema): string[] {
  const items = [s.items, ...(s.oneOf ?? []).map((a) => a.items)].filter((i) => i !== undefined);
  return [...new Set(items.flatMap((i) => (i!.enum ?? []).map(String)))];
}

export function isBoolean(s: KeySchema): boolean {
  return s.type === 'boolean' || (s.oneOf ?? []).some((a) => a.type === 'boolean');
}

/** A default written as it would be in a .ft file. */
export function defaultText(s: KeySchema): string | undefined {
  const d = s.default;
  if (d === undefined) return s['x-inherit'] ? `the pipeline's ${s['x-inherit']}` : undefined;
  return ftLiteral(d);
}

function ftLiteral(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(ftLiteral).join(', ')}]`;
  if (typeof v === 'string') return /^[A-Za-z_][A-Za-z0-9_.-]*$/.test(v) ? v : JSON.stringify(v);
  return String(v);
}

/** What the value must be, in words: a reference, a path, or the shape from the validator's own wording. */
export function typeText(s: KeySchema): string {
  if (s['x-ref']) return `reference to a ${s['x-ref'].join(' or ')} stage`;
  const base = describeSchema(s);
  if (s['x-path']) return `${base} (path to a ${s['x-path']}, relative to the pipeline file)`;
  return base;
}

/** One line for a completion item's detail. */
export function keyDetail(s: KeySchema): string {
  const d = defaultText(s);
  return d === undefined ? typeText(s) : `${typeText(s)} (default ${d})`;
}

/** Hover and completion documentation of a key. */
export function keyMarkdown(kind: string, path: readonly string[], s: KeySchema): string {
  const lines = [`**${[kind, ...path].join('.')}**: ${typeText(s)}`, '', s.description];
  const d = defaultText(s);
  if (d !== undefined) lines.push('', `Default: \`${d}\``);
  const values = allowedValues(s);
  const items = allowedItems(s);
  if (values.length) lines.push('', `Allowed values: ${values.map((v) => `\`${v}\``).join(', ')}`);
  if (items.length) lines.push('', `List items: ${items.map((v) => `\`${v}\``).join(', ')}`);
  if (s['x-cache'] === false) lines.push('', '_Does not change the output: left out of the cache key._');
  return lines.join('\n');
}

export function kindMarkdown(kind: string): string | undefined {
  const s = stageSchema(kind);
  if (!s) return undefined;
  const required = s.required.length ? `\n\nRequired keys: ${s.required.map((k) => `\`${k}\``).join(', ')}` : '';
  return `**${kind}** stage\n\n${s.description}${required}`;
}

/** What a reference names, for hover: its kind, name and the keys it sets. */
export function stageSummary(stage: StageNode): string {
  const lines = [`**${stage.kind} ${stage.name}** (line ${stage.nameRange.line})`];
  const desc = stageSchema(stage.kind)?.description;
  if (desc) lines.push('', desc);
  if (stage.entries.length) {
    lines.push('', '```ft');
    for (const e of stage.entries) lines.push(`${e.key} = ${e.value ? inline(e.value) : ''}`.trimEnd());
    lines.push('```');
  }
  return lines.join('\n');
}

/** A value on one line: lists inline, nested blocks abbreviated. */
function inline(v: ValueNode): string {
  if (v.type === 'list') return `[${v.items.map(inline).join(', ')}]`;
  if (v.type === 'block') return `{ ${v.entries.map((e) => `${e.key} = ${e.value ? inline(e.value) : ''}`).join(', ')} }`;
  return scalar(v);
}
