import { copyFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { exportStages } from '../../../src/cli/commands/compile.js';
import { compileFile } from '../../../src/compiler/index.js';
import type { PipelineIR } from '../../../src/compiler/ir.js';
import type { FileNode } from '../../../src/compiler/ast.js';
import { compileToAccelerate, type AccelerateJob, type ExportedData } from '../../../src/compiler/targets/accelerate/index.js';
import { repoRoot, runCli, tempDir } from '../../helpers.js';

/** The example pipelines with golden jobs, and what they need besides the tiny model. */
export const EXAMPLES: readonly { name: string; pipeline: string; data: readonly string[]; overrides?: string[] }[] = [
  { name: 'alpaca-lora', pipeline: 'alpaca-lora', data: ['alpaca_sample.json'] },
  { name: 'chat-qlora', pipeline: 'chat-qlora', data: ['chat_sample.jsonl', 'chat_tokenizer_config.json'] },
  // No golden files: short sequences so truncation, dropped examples, and packing with loss on prompts happen.
  { name: 'alpaca-short-packed', pipeline: 'alpaca-lora', data: [], overrides: ['tok.max_length=40', 'tok.train_on_inputs=true', 'tok.add_bos=false', 'tok.packing=true'] },
  { name: 'alpaca-short', pipeline: 'alpaca-lora', data: [], overrides: ['tok.max_length=40'] },
];
export const GOLDEN_EXAMPLES = ['alpaca-lora', 'chat-qlora'];

export interface CompiledExample {
  name: string;
  ir: PipelineIR;
  ast: FileNode;
  exported: ExportedData;
  job: AccelerateJob;
  /** Where the job is (or would be) written: <workspace>/jobs/<name>. */
  outDir: string;
}

/**
 * A workspace laid out like the repository (pipelines/, data/, models/tiny-llama from ftc init-model)
 * in a temp dir, so relative paths in the generated files are the same on every machine; each
 * example compiled through ftc's own data/preprocess/tokenizer stages into a private cache.
 */
export async function compileExamples(): Promise<{ root: string; examples: CompiledExample[] }> {
  const root = tempDir('ftc-accelerate-');
  mkdirSync(join(root, 'pipelines'));
  mkdirSync(join(root, 'data'));
  const init = runCli(['init-model', join(root, 'models', 'tiny-llama')]);
  if (init.status !== 0) throw new Error(`init-model failed: ${init.stderr}`);
  const examples: CompiledExample[] = [];
  for (const ex of EXAMPLES) {
    copyFileSync(join(repoRoot(), 'pipelines', `${ex.pipeline}.ft`), join(root, 'pipelines', `${ex.pipeline}.ft`));
    for (const d of ex.data) copyFileSync(join(repoRoot(), 'data', d), join(root, 'data', d));
    const compiled = compileFile(join(root, 'pipelines', `${ex.pipeline}.ft`), { overrides: ex.overrides ?? [], target: 'accelerate' });
    if (!compiled.ir) throw new Error(`${ex.name}: ${JSON.stringify(compiled.diagnostics)}`);
    const tokenizer = compiled.ir.stages.find((s) => s.kind === 'trainer')!.params.data as string;
    const exported = await exportStages(compiled.ir, tokenizer, { cacheDir: join(root, 'cache') });
    const outDir = join(root, 'jobs', ex.name);
    const job = compileToAccelerate(compiled.ir, { outDir, exported, pipelineFile: `pipelines/${ex.pipeline}.ft`, ast: compiled.ast });
    examples.push({ name: ex.name, ir: compiled.ir, ast: compiled.ast, exported, job, outDir });
  }
  return { root, examples };
}
