/**
 * Stage schemas are JSON Schema (draft 2020-12 subset, validated by ajv) with a few
 * ftc annotations. Each key is declared exactly once, with its description; the same
 * schema validates .ft and .ft.yaml, feeds completion and hover, and documents the key.
 *
 * Annotations:
 * - `x-ref`:   the value is a reference (a bare identifier naming a stage) to one of these kinds.
 * - `x-path`:  the value is a path relative to the pipeline file: 'file' or 'dir' must exist;
 *              its content is hashed into the stage's cache key.
 * - `x-inherit`: a key of the `pipeline` header whose value is the default (e.g. seed).
 * - `x-version`: (stage level) bump when the stage's output for the same inputs changes.
 * - `x-cache`: false for keys that do not change the stage's output (e.g. log_every); they are
 *              left out of the cache key but still validated and shown in plans.
 */
export interface KeySchema {
  description: string;
  type?: 'string' | 'number' | 'integer' | 'boolean' | 'array' | 'object';
  enum?: readonly (string | number | boolean)[];
  default?: unknown;
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: number;
  exclusiveMaximum?: number;
  items?: Omit<KeySchema, 'description'> & { description?: string };
  minItems?: number;
  properties?: Record<string, KeySchema>;
  additionalProperties?: boolean | Omit<KeySchema, 'description'>;
  required?: readonly string[];
  oneOf?: readonly (Omit<KeySchema, 'description'> & { description?: string })[];
  const?: unknown;
  pattern?: string;
  examples?: readonly unknown[];
  'x-ref'?: readonly string[];
  'x-path'?: 'file' | 'dir';
  'x-inherit'?: string;
  'x-cache'?: boolean;
}

export interface StageSchema {
  kind: string;
  description: string;
  'x-version': number;
  type: 'object';
  properties: Record<string, KeySchema>;
  required: readonly string[];
  additionalProperties: false;
}
