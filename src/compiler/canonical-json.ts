import { createHash } from 'node:crypto';

/**
 * Canonical JSON: object keys sorted by code unit, no whitespace, numbers as JSON.stringify
 * writes them. Two values that mean the same thing serialize to the same bytes, so their
 * sha256 can serve as a cache key (DVC's stage cache does the same).
 */
export function canonicalJson(value: unknown): string {
  if (value === null) return 'null';
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return JSON.stringify(value);
    case 'number':
      if (!Number.isFinite(value)) throw new Error(`canonicalJson: non-finite number ${value}`);
      return JSON.stringify(value);
    case 'object': {
      if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
      const obj = value as Record<string, unknown>;
      const keys = Object.keys(obj)
        .filter((k) => obj[k] !== undefined)
        .sort();
      return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(obj[k])}`).join(',')}}`;
    }
    default:
      // undefined, functions, bigint, symbols have no JSON form: a bug in the caller.
      throw new Error(`canonicalJson: cannot serialize a ${typeof value}`);
  }
}

export const sha256Hex = (data: string | Uint8Array): string => createHash('sha256').update(data).digest('hex');

/** sha256 hex of the canonical JSON of a value. */
export const hashJson = (value: unknown): string => sha256Hex(canonicalJson(value));
