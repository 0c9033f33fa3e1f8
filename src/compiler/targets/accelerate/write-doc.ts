import { writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { mappingDoc } from './readme.js';

/** docs/accelerate.md, generated from the mapping table; a test keeps the committed file current. */
export const MAPPING_DOC_PATH = join('docs', 'accelerate.md');

// node dist/src/compiler/targets/accelerate/write-doc.js [ROOT] regenerates the committed file.
if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const root = process.argv[2] ?? process.cwd();
  writeFileSync(join(root, MAPPING_DOC_PATH), mappingDoc());
  process.stdout.write(`wrote ${join(root, MAPPING_DOC_PATH)}\n`);
}
