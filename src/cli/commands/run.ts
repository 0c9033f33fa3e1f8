import { relative } from 'node:path';
import { type Command, InvalidArgumentError, Option } from 'commander';
import { planPipeline } from '../../compiler/index.js';
import { lockPath, writeLock } from '../../runtime/lockfile.js';
import { formatDuration } from '../../runtime/progress.js';
import { collect, compilePipelineForCli } from '../compile-files.js';

const BACKENDS = ['auto', 'tensorflow-gpu', 'tensorflow', 'wasm', 'cpu'];

function workers(value: string): number | 'auto' {
  if (value === 'auto') return 'auto';
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('expected a positive integer or "auto"');
  return n;
}

/**
 * `ftc run FILE`: compile, plan, execute through the cache, write FILE.lock.
 * Exit codes: 0 ok; 1 the pipeline has errors, a stage failed, or --frozen found a change; 2 usage.
 */
export function register(program: Command): void {
  program
    .command('run')
    .description('Run a pipeline: every stage whose inputs are unchanged is taken from the cache; then write FILE.lock')
    .argument('<file>', 'pipeline file (.ft or .ft.yaml)')
    .option('--set <stage.key=value>', 'override a value without editing the file (repeatable), e.g. --set sft.lr=1e-4', collect, [])
    .option('--no-cache', 'run every stage without reading or writing the cache (outputs and the lock file are still written)')
    .option('--force <stage>', 're-run this stage and everything downstream of it, replacing their cache entries (repeatable)', collect, [])
    .option('--frozen', 'fail before running anything when FILE.lock would change (for CI, like npm ci)')
    .option('--resume', 'resume training from the last checkpoint of an interrupted run')
    .option('--workers <n>', 'data-parallel training workers: a number or "auto"', workers)
    .addOption(new Option('--backend <name>', 'TensorFlow.js backend, overriding the pipeline header').choices(BACKENDS))
    .addHelpText(
      'after',
      `
Cache: <pipeline dir>/.ftc/cache, or $FTC_CACHE_DIR. Each stage prints one line: ran or cached, time, rows, tokens.
Progress bars appear on a terminal only (not when CI=true or output is redirected).
Two runs of the same pipeline may run at once: the second waits for entries the first is building.`,
    )
    .action(async (file: string, o: { set: string[]; cache: boolean; force: string[]; frozen?: boolean; resume?: boolean; workers?: number | 'auto'; backend?: string }) => {
      const started = performance.now();
      const ir = compilePipelineForCli(file, o.set);
      if (!ir) return;
      const plan = await planPipeline(ir);
      // Loaded on use, so `ftc --help` and the other commands never pay for the stage kinds' imports.
      const { execute } = await import('../../runtime/executor.js');
      const result = await execute(plan, ir, {
        noCache: !o.cache,
        force: o.force,
        frozen: o.frozen,
        resume: o.resume,
        workers: o.workers,
        backend: o.backend,
      });
      await writeLock(ir.file, result.lock);
      const ran = result.stages.filter((s) => s.status === 'ran').length;
      process.stdout.write(
        `done in ${formatDuration(performance.now() - started)}: ${ran} ran, ${result.stages.length - ran} cached; lock written to ${relative(process.cwd(), lockPath(ir.file)) || lockPath(ir.file)}\n`,
      );
    });
}
