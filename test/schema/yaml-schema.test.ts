import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { Ajv } from 'ajv';
import { parse } from 'yaml';
import { YAML_SCHEMA_PATH, yamlSchemaText } from '../../src/schema/yaml-schema.js';
import { repoRoot } from '../helpers.js';

const committed = () => readFileSync(join(repoRoot(), YAML_SCHEMA_PATH), 'utf8');

test('grammar/ft.schema.json is up to date (regenerate with npm run grammar:schema)', () => {
  assert.equal(committed(), yamlSchemaText());
});

test('the YAML form of the example validates against the schema; mistakes do not', () => {
  const validate = new Ajv({ allErrors: true }).compile(JSON.parse(committed()));
  const doc = parse(readFileSync(join(repoRoot(), 'pipelines/alpaca-lora.ft.yaml'), 'utf8'));
  assert.ok(validate(doc), JSON.stringify(validate.errors));
  const bad = structuredClone(doc) as { stages: Record<string, Record<string, unknown>> };
  bad.stages.adapter.r = 0;
  bad.stages.sft.rank = 4;
  bad.stages.raw.kind = 'dataset';
  assert.equal(validate(bad), false);
  const paths = validate.errors!.map((e) => `${e.instancePath} ${e.keyword}`);
  assert.ok(paths.includes('/stages/adapter/r minimum'), paths.join('\n'));
  assert.ok(paths.includes('/stages/sft additionalProperties'), paths.join('\n'));
  assert.ok(paths.includes('/stages/raw/kind enum'), paths.join('\n'));
});
