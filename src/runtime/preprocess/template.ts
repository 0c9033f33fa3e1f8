import { FtcError } from '../../errors.js';
import type { DataRecord } from '../data/types.js';

/** Where a record came from, for error messages: "record 17 of `raw`". */
export interface RecordRef {
  index: number;
  source: string;
}

type Part = string | { field: string };

/** A `{field}` template compiled once and rendered per record. */
export interface Template {
  text: string;
  fields: string[];
  render(record: DataRecord, ref: RecordRef): string;
}

/**
 * Compiles a template: `{name}` is the record's field `name`, `{{` and `}}` are literal braces.
 * A lone brace is a template error (a user mistake, reported before any record is read).
 */
export function compileTemplate(text: string, label: string): Template {
  const parts: Part[] = [];
  let literal = '';
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if ((c === '{' || c === '}') && text[i + 1] === c) {
      literal += c;
      i++;
    } else if (c === '{') {
      const close = text.indexOf('}', i + 1);
      const name = close === -1 ? '' : text.slice(i + 1, close);
      if (close === -1 || name === '' || name.includes('{')) {
        throw new FtcError(
          'E_TEMPLATE_SYNTAX',
          `${label} template ${JSON.stringify(text)}: "{" at character ${i + 1} does not open a {field} placeholder`,
          undefined,
          'write {{ for a literal "{"',
        );
      }
      if (literal) parts.push(literal);
      literal = '';
      parts.push({ field: name });
      i = close;
    } else if (c === '}') {
      throw new FtcError(
        'E_TEMPLATE_SYNTAX',
        `${label} template ${JSON.stringify(text)}: "}" at character ${i + 1} closes no placeholder`,
        undefined,
        'write }} for a literal "}"',
      );
    } else literal += c;
  }
  if (literal) parts.push(literal);
  const fields = parts.filter((p): p is { field: string } => typeof p !== 'string').map((p) => p.field);
  return {
    text,
    fields,
    render(record, ref) {
      let out = '';
      for (const part of parts) {
        if (typeof part === 'string') out += part;
        else out += fieldText(record, part.field, ref, label);
      }
      return out;
    },
  };
}

/** A field's value as text: strings as they are, null as empty, anything else as JSON. */
function fieldText(record: DataRecord, field: string, ref: RecordRef, label: string): string {
  // Own fields only: {constructor}, {__proto__} or {toString} name no field of a record, not JavaScript's internals.
  const v = Object.prototype.hasOwnProperty.call(record, field) ? record[field] : undefined;
  if (typeof v === 'string') return v;
  if (v === undefined) throw missingField(record, field, ref, label);
  if (v === null) return '';
  return typeof v === 'object' ? JSON.stringify(v) : String(v);
}

export function missingField(record: DataRecord, field: string, ref: RecordRef, label: string): FtcError {
  const have = Object.keys(record);
  const near = have.find((h) => h.toLowerCase() === field.toLowerCase()) ?? have.find((h) => editDistance(h, field) <= 2);
  return new FtcError(
    'E_TEMPLATE_FIELD_MISSING',
    `record ${ref.index} of \`${ref.source}\`: the ${label} template uses {${field}}, but the record has no field "${field}" (it has ${have.length ? have.join(', ') : 'no fields'})`,
    { row: ref.index },
    near ? `did you mean {${near}}?` : 'rename the field in the data stage (rename { new = "old" }) or change the template',
  );
}

function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let diag = row[0];
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const next = Math.min(row[j] + 1, row[j - 1] + 1, diag + (a[i - 1] === b[j - 1] ? 0 : 1));
      diag = row[j];
      row[j] = next;
    }
  }
  return row[b.length];
}

/** The Stanford Alpaca prompts: one for records with a non-empty `input`, one without. */
export const ALPACA_PROMPT_WITH_INPUT =
  'Below is an instruction that describes a task, paired with an input that provides further context. ' +
  'Write a response that appropriately completes the request.\n\n' +
  '### Instruction:\n{instruction}\n\n### Input:\n{input}\n\n### Response:\n';
export const ALPACA_PROMPT_NO_INPUT =
  'Below is an instruction that describes a task. Write a response that appropriately completes the request.\n\n' +
  '### Instruction:\n{instruction}\n\n### Response:\n';

/** `turns`: chat only, the spans of prompt + response to train on (stages/preprocess.ts Example). */
export type Renderer = (record: DataRecord, ref: RecordRef) => { prompt: string; response: string; turns?: Array<[number, number]> };

/** prompt/response from two templates. */
export function templateRenderer(prompt: string, response: string): Renderer {
  const p = compileTemplate(prompt, 'prompt');
  const r = compileTemplate(response, 'response');
  return (record, ref) => ({ prompt: p.render(record, ref), response: r.render(record, ref) });
}

/** Alpaca: the with-input prompt when `input` is a non-empty string, else the short one; response = output (or the given template). */
export function alpacaRenderer(response = '{output}'): Renderer {
  const withInput = compileTemplate(ALPACA_PROMPT_WITH_INPUT, 'alpaca prompt');
  const noInput = compileTemplate(ALPACA_PROMPT_NO_INPUT, 'alpaca prompt');
  const r = compileTemplate(response, 'response');
  return (record, ref) => {
    const input = record.input;
    const hasInput = typeof input === 'string' ? input.trim() !== '' : input !== undefined && input !== null;
    return { prompt: (hasInput ? withInput : noInput).render(record, ref), response: r.render(record, ref) };
  };
}
