import { Option, type Command } from 'commander';
import { GRAPH_FORMATS, renderGraph, type GraphFormat } from '../../compiler/index.js';
import { collect, compilePipelineForCli } from '../compile-files.js';

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
      const ir = compilePipelineForCli(file, o.set, false);
      if (ir) process.stdout.write(renderGraph(ir, o.format));
    });
}
