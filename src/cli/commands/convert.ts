import { writeFileSync } from 'node:fs';
import { dirname, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Command, Option } from 'commander';
import { formatYaml, toFt } from '../../compiler/format.js';
import { hasErrors } from '../../compiler/diagnostics.js';
import { parseSource } from '../../compiler/parse.js';
import { printDiagnostics } from '../diagnostics-print.js';
import { readSource } from './fmt.js';

/** `ftc convert FILE --to yaml|ft`: the same pipeline in the other form (same AST, same IR, same plan). */
export function register(program: Command): void {
  program
    .command('convert')
    .description('Convert a pipeline between the .ft and the YAML (.ft.yaml) form')
    .argument('<file>', 'pipeline file (.ft or .ft.yaml)')
    .addOption(new Option('--to <form>', 'target form').choices(['yaml', 'ft']).makeOptionMandatory())
    .option('--out <file>', 'write here instead of printing')
    .action((file: string, o: { to: 'yaml' | 'ft'; out?: string }) => {
      const text = readSource(file);
      const { ast, diagnostics } = parseSource(text, file);
      if (hasErrors(diagnostics)) {
        process.stderr.write(printDiagnostics(diagnostics, new Map([[file, text]]), 'text'));
        process.exitCode = 1;
        return;
      }
      const target = o.out ?? file;
      const output = o.to === 'ft' ? toFt(ast) : formatYaml(ast, { schema: schemaPathFrom(dirname(resolve(target))) });
      if (o.out) writeFileSync(o.out, output);
      else process.stdout.write(output);
    });
}

/** grammar/ft.schema.json of this ftc install, relative to where the YAML will live (for yaml-language-server). */
function schemaPathFrom(dir: string): string {
  const root = resolve(dirname(fileURLToPath(import.meta.url)), '../../../..');
  return relative(dir, resolve(root, 'grammar/ft.schema.json')).split('\\').join('/');
}
