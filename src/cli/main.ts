#!/usr/bin/env node
import { Command, CommanderError } from 'commander';
import { isFtcError } from '../errors.js';
import { formatError } from './output.js';
import { terminalSafe } from '../terminal-safe.js';
import { commands } from './commands/index.js';

/** Exit codes: 0 ok, 1 the input has errors (or a run failed), 2 usage errors. */
async function main(argv: string[]): Promise<number> {
  const program = new Command('ftc')
    .description('Compile and run declarative LLM fine-tuning pipelines')
    .version('0.1.0')
    .exitOverride()
    .configureOutput({ writeErr: (s) => process.stderr.write(terminalSafe(s)) });
  for (const register of commands) register(program);
  try {
    await program.parseAsync(argv);
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (e) {
    if (e instanceof CommanderError) {
      if (e.code === 'commander.helpDisplayed' || e.code === 'commander.version' || e.code === 'commander.help') return 0;
      return 2;
    }
    if (isFtcError(e)) {
      process.stderr.write(formatError(e) + '\n');
      return 1;
    }
    throw e;
  }
}

main(process.argv).then(
  (code) => {
    process.exitCode = code;
  },
  (e: unknown) => {
    // A broken internal invariant: a bug in ftc, not a user mistake. Show the stack so it can be reported.
    process.stderr.write(`ftc: internal error (please report): ${e instanceof Error ? e.stack : String(e)}\n`);
    process.exitCode = 70;
  },
);
