import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { PipelineIR } from '../compiler/ir.js';
import type { ModelArgs } from '../runtime/model/open.js';
import { compilePipelineForCli } from './compile-files.js';

/**
 * Resolves a pipeline file to its model directory (the model stage's path) and adapter (the trainer's
 * output directory, once it holds an adapter; once it holds a fully fine-tuned model, that is the model).
 * Explicit --model/--adapter win over the pipeline.
 * The pipeline is compiled here, in the CLI, so every diagnostic is printed; undefined (exit code set) when it has errors.
 * The compiled IR comes back too, for what else the command reads from the pipeline (generate's prompt template).
 */
export function argsFromPipeline(file: string, explicit: ModelArgs): { args: ModelArgs; ir: PipelineIR } | undefined {
  // Only the model and adapter paths are needed: a pipeline trained by the accelerate job (nf4) is generated from too.
  const ir = compilePipelineForCli(file, [], false, 'accelerate');
  if (!ir) return undefined;
  const modelStage = ir.stages.find((s) => s.kind === 'model');
  const trainer = ir.stages.find((s) => s.kind === 'trainer');
  const model = explicit.model ?? (modelStage ? resolve(ir.dir, String(modelStage.params.path)) : undefined);
  let adapter = explicit.adapter;
  if (!adapter && trainer?.params.output !== undefined) {
    const out = resolve(ir.dir, String(trainer.params.output));
    if (existsSync(join(out, 'adapter_config.json'))) adapter = out;
    // Full fine-tuning writes a whole model there: it replaces the base, unless --model names one.
    else if (existsSync(join(out, 'config.json')) && !explicit.model) return { args: { ...explicit, model: out }, ir };
    else process.stderr.write(`warning: ${out} holds no trained adapter yet (run \`ftc run ${file}\`); using the base model\n`);
  }
  return { args: { ...explicit, model, adapter }, ir };
}
