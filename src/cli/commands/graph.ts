import { Option, type Command } from 'commander';
import { GRAPH_FORMATS, hasErrors, renderGraph, type GraphFormat } from '../../compiler/index.js';
import { collect, compileForCli } from '../compile-files.js';
import { printDiagnostics } from '../diagnostics-print.js';

/** `ftc graph FILE --format mermaid|dot|text`: the stage graph. */
export function register(program: Command): void {
  program
    .command('graph')
    .description('Draw the stage graph of a pipeline')
    .argument('<file>', 'pipeline file')
    .addOption(new Option('--format <format>', 'output format').choices(GRAPH_FORMATS).default('mermaid'))
    .option('--set <stage.key=value>', 'override a value (repeatable)', collect, [])
    .action((file: string, o: { format: GraphFormat; set: string[] }) => {
      // The graph does not depend on files existing: draw it for a fresh clone too.
      const compiled = compileForCli([file], o.set, false);
      if (!compiled) return;
      const r = compiled.results[0]!;
      if (r.diagnostics.length) process.stderr.write(printDiagnostics(r.diagnostics, compiled.sources, 'text'));
      if (hasErrors(r.diagnostics) || !r.ir) {
        process.exitCode = 1;
        return;
      }
      process.stdout.write(renderGraph(r.ir, o.format));
    });
}
