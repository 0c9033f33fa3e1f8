import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { railroadHtml, railroadPath } from '../../src/compiler/railroad.js';

test('grammar/railroad.html is the diagram of the current parser (run `npm run grammar` when this fails)', () => {
  const html = railroadHtml();
  for (const rule of ['file', 'block', 'entry', 'value', 'list', 'nestedBlock']) assert.ok(html.includes(`"name": "${rule}"`) || html.includes(`"name":"${rule}"`), rule);
  assert.equal(readFileSync(railroadPath(), 'utf8'), html);
});
