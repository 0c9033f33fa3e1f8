import { readFileSync, writeFileSync } from 'node:fs';
import type { Command } from 'commander';
import { FtcError } from '../../errors.js';
import { formatFt, formatYaml } from '../../compiler/format.js';
import { hasErrors } from '../../compiler/diagnostics.js';
import { isYamlFile, parseSource } from '../../compiler/parse.js';
import { printDiagnostics } from '../diagnostics-print.js';

/** `ftc fmt FILE...`: the canonical form of each file (.ft, or YAML for .ft.yaml), like gofmt. */
export function register(program: Command): void {
  program
    .command('fmt')
    .description('Print pipeline files in canonical form (--write rewrites them, --check only reports)')
    .argument('<files...>', 'pipeline files (.ft or .ft.yaml)')
    .option('--write', 'rewrite files that are not in canonical form')
    .option('--check', 'exit 1 when a file is not in canonical form; print nothing else')
    .action((files: string[], o: { write?: boolean; check?: boolean }) => {
      let failed = false;
      for (const file of files) {
        const text = readSource(file);
        const { ast, diagnostics } = parseSource(text, file);
        if (hasErrors(diagnostics)) {
          // Formatting a file the parser had to guess at would rewrite the user's mistake into something else.
          process.stderr.write(printDiagnostics(diagnostics, new Map([[file, text]]), 'text'));
          failed = true;
          continue;
        }
        const canonical = isYamlFile(file) ? formatYaml(ast) : formatFt(ast);
        if (o.check) {
          if (canonical !== text) {
            process.stdout.write(`${file}: not in canonical form (run ftc fmt --write ${file})\n`);
            failed = true;
          }
        } else if (o.write) {
          if (canonical !== text) {
            writeFileSync(file, canonical);
            process.stdout.write(`formatted ${file}\n`);
          }
        } else {
          process.stdout.write(canonical);
        }
      }
      if (failed) process.exitCode = 1;
    });
}

export function readSource(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (e) {
    const why = (e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (e as Error).message;
    throw new FtcError('E0300', `cannot read ${file}: ${why}`, { file }, 'check the path (relative to the current directory)');
  }
}
