import { writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { createSyntaxDiagramsCode } from 'chevrotain';
import { parser } from './parser.js';

/**
 * The railroad diagram of the grammar, drawn from the parser itself so that it cannot drift:
 * `npm run grammar` rewrites grammar/railroad.html, and a test fails when the committed one is stale.
 */
export function railroadHtml(): string {
  return createSyntaxDiagramsCode(parser.getSerializedGastProductions());
}

export function railroadPath(): string {
  // dist/src/compiler → repository root
  return resolve(dirname(fileURLToPath(import.meta.url)), '../../../grammar/railroad.html');
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  writeFileSync(railroadPath(), railroadHtml());
  process.stdout.write(`wrote ${railroadPath()}\n`);
}
