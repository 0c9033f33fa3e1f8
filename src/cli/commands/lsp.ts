import { InvalidArgumentError, type Command } from 'commander';

/** `ftc lsp`: the language server over stdio, for editors (see editors/README.md). */
export function register(program: Command): void {
  program
    .command('lsp')
    .description('Run the language server over stdio (diagnostics, completion, hover, navigation, formatting)')
    .option('--stdio', 'talk over stdin/stdout (the default and only transport; accepted because clients pass it)')
    .option('--debounce <ms>', 'milliseconds from the last edit to the diagnostics', parseDebounce)
    .action(async (o: { debounce?: number }) => {
      // Loaded here so that other commands (and `ftc --version`) never pay for the server's modules.
      const { startServer } = await import('../../lsp/server.js');
      startServer({ debounceMs: o.debounce });
    });
}

function parseDebounce(v: string): number {
  const n = Number(v);
  if (!Number.isFinite(n) || n < 0) throw new InvalidArgumentError(`wants a number of milliseconds >= 0, got '${v}'`);
  return n;
}
