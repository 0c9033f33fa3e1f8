import { Option, type Command } from 'commander';
import { hasErrors } from '../../compiler/index.js';
import { RUN_TARGETS, type RunTarget } from '../../model-spec/quantization.js';
import { collect, compileForCli } from '../compile-files.js';
import { DIAGNOSTIC_FORMATS, printDiagnostics, type DiagnosticFormat } from '../diagnostics-print.js';

/** `ftc check FILE...`: every problem in every file, at once. Exit 0 clean, 1 errors, 2 usage. */
export function register(program: Command): void {
  program
    .command('check')
    .description('Report every error and warning in pipeline files (.ft or .ft.yaml)')
    .argument('<files...>', 'pipeline files')
    .addOption(new Option('--format <format>', 'output format').choices(DIAGNOSTIC_FORMATS).default('text'))
    .option('--set <stage.key=value>', 'override a value without editing the file (repeatable)', collect, [])
    .option('--no-check-files', 'do not check that the files the pipeline names exist')
    .addOption(new Option('--target <target>', 'what will run the pipeline: ftc run (run) or the job of ftc compile --target accelerate').choices([...RUN_TARGETS]).default('run'))
    .action((files: string[], o: { format: DiagnosticFormat; set: string[]; checkFiles: boolean; target: RunTarget }) => {
      const compiled = compileForCli(files, o.set, o.checkFiles, o.target);
      if (!compiled) return;
      // Overrides apply to every file; report their own problems once.
      const seen = new Set<string>();
      const diagnostics = compiled.results.flatMap((r) => r.diagnostics).filter((d) => {
        const k = JSON.stringify(d);
        return seen.has(k) ? false : (seen.add(k), true);
      });
      const out = printDiagnostics(diagnostics, compiled.sources, o.format);
      (o.format === 'text' ? process.stderr : process.stdout).write(out);
      if (o.format === 'text' && diagnostics.length === 0) process.stdout.write(`${files.length === 1 ? files[0] : `${files.length} files`}: ok\n`);
      process.exitCode = hasErrors(diagnostics) ? 1 : 0;
    });
}
