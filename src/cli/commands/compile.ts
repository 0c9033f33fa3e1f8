import { existsSync, mkdirSync, readdirSync, renameSync, rmSync, writeFileSync, copyFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { Option, type Command } from 'commander';
import { compileFile, hasErrors, OVERRIDE_FILE, planPipeline } from '../../compiler/index.js';
import type { PipelineIR } from '../../compiler/ir.js';
import { QUANTIZATION_NEEDS_ACCELERATE } from '../../compiler/validate/checks-quantization.js';
import { FtcError } from '../../errors.js';
import { collect } from '../compile-files.js';
import { printDiagnostics } from '../diagnostics-print.js';

export const TARGETS = ['accelerate'] as const;

/**
 * `ftc compile FILE --target accelerate --out DIR`: a transformers + peft + accelerate job.
 * Exit codes: 0 written; 1 the pipeline has errors or a key has no equivalent; 2 usage.
 */
export function register(program: Command): void {
  program
    .command('compile')
    .description('Compile a pipeline into a job for another engine: --target accelerate writes a transformers + peft training job launched by accelerate')
    .argument('<file>', 'pipeline file (.ft or .ft.yaml)')
    .addOption(new Option('--target <target>', 'the engine to compile for').choices([...TARGETS]).makeOptionMandatory())
    .requiredOption('--out <dir>', 'job directory to write (replaced atomically; an existing directory must be an earlier job)')
    .option('--set <stage.key=value>', 'override a value without editing the file (repeatable)', collect, [])
    .addHelpText('after', `
The data, preprocess and tokenizer stages run first (through the cache, as ftc run would): the job
reads ftc's own preprocessed rows and tokenizer, so template, split and special tokens agree by
construction. See docs/accelerate.md for what each pipeline key becomes.`)
    .action(async (file: string, o: { target: string; out: string; set: string[] }) => {
      const compiled = compileFile(file, { overrides: o.set });
      // nf4 is honoured here, so the warning that ftc run would ignore it does not apply.
      let diagnostics = compiled.diagnostics.filter((d) => d.code !== QUANTIZATION_NEEDS_ACCELERATE);
      const sources = new Map([[file, compiled.text], [OVERRIDE_FILE, o.set.join('\n')]]);
      const print = () => diagnostics.length && process.stderr.write(printDiagnostics(diagnostics, sources, 'text'));
      if (hasErrors(diagnostics) || !compiled.ir) {
        print();
        process.exitCode = 1;
        return;
      }
      const ir = compiled.ir;
      const target = await import('../../compiler/targets/accelerate/index.js');
      const preflight = target.checkForAccelerate(ir, { ast: compiled.ast, pipelineFile: file, hasEval: true });
      if (hasErrors(preflight.diagnostics) || !preflight.stages) {
        diagnostics = [...diagnostics, ...preflight.diagnostics];
        print();
        process.exitCode = 1;
        return;
      }
      const exported = await exportStages(ir, preflight.stages.trainer.params.data as string);
      const outDir = resolve(o.out);
      const job = target.compileToAccelerate(ir, { outDir, exported, pipelineFile: file, ast: compiled.ast });
      diagnostics = [...diagnostics, ...job.diagnostics.filter((d) => !preflight.diagnostics.some((p) => p.code === d.code && p.line === d.line && p.column === d.column))];
      print();
      if (hasErrors(job.diagnostics)) {
        process.exitCode = 1;
        return;
      }
      writeJob(outDir, job.files, job.copies);
      process.stdout.write(`wrote ${o.out}: ${[...job.files.keys(), ...job.copies.keys()].sort().join(', ')}\nlaunch: cd ${o.out} && accelerate launch --config_file accelerate.yaml train.py\n`);
    });
}

/**
 * Runs the tokenizer stage and everything it depends on (data, preprocess) through the cache and
 * reads what the job needs from their artifacts. Exported for tests.
 */
export async function exportStages(ir: PipelineIR, tokenizerStage: string, opts: { cacheDir?: string } = {}) {
  const { execute } = await import('../../runtime/executor.js');
  const { ArtifactCache } = await import('../../runtime/cache.js');
  const { readExportedData } = await import('../../compiler/targets/accelerate/artifacts.js');
  const byName = new Map(ir.stages.map((s) => [s.name, s]));
  const needed = new Set<string>();
  const visit = (name: string) => {
    if (needed.has(name)) return;
    needed.add(name);
    for (const u of byName.get(name)!.inputs) visit(u);
  };
  visit(tokenizerStage);
  const plan = await planPipeline(ir);
  const result = await execute({ ...plan, stages: plan.stages.filter((s) => needed.has(s.name)) }, ir, {
    report: (line) => process.stderr.write(line + '\n'),
    ...(opts.cacheDir ? { cache: new ArtifactCache(opts.cacheDir) } : {}),
  });
  const dirOf = (name: string) => result.stages.find((s) => s.name === name)!.dir;
  const preprocess = byName.get(byName.get(tokenizerStage)!.params.input as string)!;
  const chat = preprocess.params.template === 'chat' && typeof preprocess.params.chat_template === 'string' ? resolve(ir.dir, preprocess.params.chat_template) : undefined;
  const vocab = byName.get(tokenizerStage)!.params.vocab;
  return readExportedData(dirOf(preprocess.name), dirOf(tokenizerStage), chat, typeof vocab === 'string' ? resolve(ir.dir, vocab) : undefined);
}

/**
 * Writes the job into a sibling temporary directory, then swaps it into place, so DIR is always
 * either the previous job or the new one. A non-empty DIR that is not an earlier job is refused.
 */
export function writeJob(outDir: string, files: ReadonlyMap<string, string>, copies: ReadonlyMap<string, string>): void {
  if (existsSync(outDir) && readdirSync(outDir).length > 0 && !existsSync(join(outDir, 'ftc_data.py'))) {
    throw new FtcError('E_COMPILE_OUT_EXISTS', `${outDir} exists and is not a job ftc compiled`, { file: outDir }, 'choose an empty or new --out directory');
  }
  const tmp = `${outDir}.tmp-${process.pid}`;
  const old = `${outDir}.old-${process.pid}`;
  rmSync(tmp, { recursive: true, force: true });
  try {
    for (const [rel, text] of files) {
      mkdirSync(dirname(join(tmp, rel)), { recursive: true });
      writeFileSync(join(tmp, rel), text);
    }
    for (const [rel, source] of copies) {
      mkdirSync(dirname(join(tmp, rel)), { recursive: true });
      copyFileSync(source, join(tmp, rel));
    }
    mkdirSync(dirname(outDir), { recursive: true });
    if (existsSync(outDir)) renameSync(outDir, old);
    renameSync(tmp, outDir);
    rmSync(old, { recursive: true, force: true });
  } catch (e) {
    rmSync(tmp, { recursive: true, force: true });
    if (!existsSync(outDir) && existsSync(old)) renameSync(old, outDir);
    throw e;
  }
}
