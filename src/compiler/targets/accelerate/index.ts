import { isFourBit } from '../../../model-spec/quantization.js';
import { basename, relative, resolve, sep } from 'node:path';
import type { FileNode } from '../../ast.js';
import type { Diagnostic, SourceRange } from '../../diagnostics.js';
import type { JsonValue, PipelineIR, StageIR } from '../../ir.js';
import { accelerateConfig, type AccelerateSettings } from './config.js';
import { DATA_MODULE } from './data-module.js';
import { mappingOf, type Block, type MapContext } from './mapping.js';
import { jobReadme } from './readme.js';
import { requirements } from './requirements.js';
import { trainScript, type SpecialTokenIds } from './script.js';

export { mappingDoc, mappingTable } from './readme.js';
export { MAPPING } from './mapping.js';

/** What `ftc compile` exported from ftc's own stages for the job to read (see the CLI command). */
export interface ExportedData {
  /** Absolute paths of the preprocess artifact's splits and of the tokenizer stage's tokenizer.json. */
  trainFile: string;
  evalFile: string;
  tokenizerFile: string;
  rows: { train: number; eval: number };
  specials: SpecialTokenIds;
  /** What `tokenizer(text)` adds around a text (BOS/EOS ids), as ftc's tokenizer stage resolves it. */
  added: { prefix: number[]; suffix: number[] };
  /** The Jinja chat template the preprocess stage rendered with, if any. */
  chatTemplate?: string;
}

export interface AccelerateOptions {
  /** Absolute job directory: the job's paths to the model and outputs are relative to it. */
  outDir: string;
  exported: ExportedData;
  /** For messages and the README: the pipeline file as the user named it. */
  pipelineFile?: string;
  /** The compiled AST, so diagnostics point at the key; without it they point at the stage. */
  ast?: FileNode;
}

export interface AccelerateJob {
  /** Generated text files, by path relative to the job directory. */
  files: Map<string, string>;
  /** Files copied into the job: relative path → absolute source. */
  copies: Map<string, string>;
  diagnostics: Diagnostic[];
}

const HEADER: SourceRange = { line: 1, column: 1, endLine: 1, endColumn: 1 };

interface Resolved {
  diagnostics: Diagnostic[];
  /** Present when there are no errors. */
  stages?: { trainer: StageIR; lora: StageIR };
  job: { [k: string]: JsonValue };
}

/**
 * The checks that need no exported data: every key through the mapping table (a value with no
 * equivalent is an error naming the key) and the one trainer with its lora stage. The CLI runs this
 * before running ftc's stages; compileToAccelerate runs it again.
 */
export function checkForAccelerate(ir: PipelineIR, opts: Pick<AccelerateOptions, 'ast' | 'pipelineFile'> & { hasEval: boolean }): Resolved {
  const diagnostics: Diagnostic[] = [];
  const file = opts.pipelineFile ?? ir.file;
  const rangeOf = (stage: string | undefined, key?: string): SourceRange => {
    const node = opts.ast?.stages.find((s) => (stage === undefined ? s.kind === 'pipeline' : s.kind !== 'pipeline' && s.name === stage));
    const entry = key === undefined ? undefined : node?.entries.find((e) => e.key === key);
    return entry?.keyRange ?? node?.range ?? ir.stages.find((s) => s.name === stage)?.range ?? HEADER;
  };
  const report = (severity: Diagnostic['severity'], code: string, range: SourceRange, message: string) =>
    diagnostics.push({ file, severity, code, message, line: range.line, column: range.column, endLine: range.endLine, endColumn: range.endColumn });

  // every key through the table
  const check = (block: Block, label: string, stage: string | undefined, params: { [k: string]: JsonValue }) => {
    const c: MapContext = { ir, params, hasEval: opts.hasEval };
    for (const [key, value] of Object.entries(params)) {
      const why = mappingOf(block, key).noEquivalent?.(value, c);
      if (why) report('error', 'E0401', rangeOf(stage, key), `${label}: \`${key} = ${JSON.stringify(value)}\` has no equivalent in --target accelerate: ${why}.`);
    }
  };
  const job = { strategy: 'ddp', num_processes: 1, num_machines: 1, ...((ir.settings.job ?? {}) as { [k: string]: JsonValue }) };
  check('pipeline', 'pipeline header', undefined, { seed: ir.seed, ...ir.settings });
  check('job', 'pipeline job', undefined, job);
  for (const s of ir.stages) check(s.kind, `${s.kind} '${s.name}'`, s.name, s.params);

  // the one trainer and its lora stage
  const trainers = ir.stages.filter((s) => s.kind === 'trainer');
  if (trainers.length !== 1) {
    report('error', 'E0402', trainers[1]?.range ?? HEADER, `--target accelerate compiles one trainer stage into one job; this pipeline has ${trainers.length}.`);
    return { diagnostics, job };
  }
  const trainer = trainers[0]!;
  const lora = ir.stages.find((s) => s.name === trainer.params.model)!;
  if (lora.kind !== 'lora') {
    report('error', 'E0402', rangeOf(trainer.name, 'model'), `trainer '${trainer.name}': model = ${lora.name} is a ${lora.kind} stage; the job trains a LoRA adapter, so point it at a lora stage.`);
  }
  for (const key of ['compute_dtype', 'double_quant']) {
    if (lora.params[key] !== undefined && !isFourBit(lora.params.quantization)) {
      report('warning', 'W0401', rangeOf(lora.name, key), `lora '${lora.name}': \`${key}\` has an effect only with quantization = nf4 or fp4.`);
    }
  }
  return diagnostics.some((d) => d.severity === 'error') ? { diagnostics, job } : { diagnostics, job, stages: { trainer, lora } };
}

/**
 * PipelineIR → a transformers + peft + accelerate job. Pure: reads no file, writes none; with any
 * error no files are returned.
 */
export function compileToAccelerate(ir: PipelineIR, opts: AccelerateOptions): AccelerateJob {
  const hasEval = opts.exported.rows.eval > 0;
  const { diagnostics, job, stages } = checkForAccelerate(ir, { ...opts, hasEval });
  if (!stages) return { files: new Map(), copies: new Map(), diagnostics };
  const { trainer, lora } = stages;
  const byName = new Map(ir.stages.map((s) => [s.name, s]));
  const model = byName.get(lora.params.model as string)!;
  const tokenizer = byName.get(trainer.params.data as string)!;
  const exports = ir.stages.filter((s) => s.kind === 'export');

  // 3. the files
  const fromJob = (p: string): string => relative(opts.outDir, resolve(ir.dir, p)).split(sep).join('/') || '.';
  const paths = {
    model: fromJob(model.params.path as string),
    output: fromJob(trainer.params.output as string),
    exports: Object.fromEntries(exports.map((e) => [e.name, fromJob(e.params.output as string)])),
  };
  const settings: AccelerateSettings = {
    strategy: job.strategy as AccelerateSettings['strategy'],
    numProcesses: job.num_processes as number,
    numMachines: job.num_machines as number,
    precision: trainer.params.precision as AccelerateSettings['precision'],
    gradAccum: trainer.params.grad_accum as number,
    maxGradNorm: trainer.params.max_grad_norm as number,
  };
  const quantized = isFourBit(lora.params.quantization);
  const pipelineFile = opts.pipelineFile ?? basename(ir.file);
  const files = new Map<string, string>([
    ['README.md', jobReadme({
      name: ir.name, pipelineFile, description: ir.settings.description as string | undefined, strategy: settings.strategy,
      numProcesses: settings.numProcesses, numMachines: settings.numMachines, quantized, output: paths.output, model: paths.model, rows: opts.exported.rows,
    })],
    ['train.py', trainScript({ base: { ir, hasEval }, pipelineFile, trainer, lora, tokenizer, exports, strategy: settings.strategy, paths, specials: opts.exported.specials, added: opts.exported.added })],
    ['ftc_data.py', DATA_MODULE],
    ['accelerate.yaml', accelerateConfig(settings)],
    ['requirements.txt', requirements({ quantized, strategy: settings.strategy })],
    ['tokenizer/tokenizer_config.json', tokenizerConfig(opts.exported, tokenizer.params.max_length as number)],
  ]);
  const copies = new Map<string, string>([
    ['data/train.jsonl', opts.exported.trainFile],
    ...(hasEval ? [['data/eval.jsonl', opts.exported.evalFile] as [string, string]] : []),
    ['tokenizer/tokenizer.json', opts.exported.tokenizerFile],
  ]);
  return { files, copies, diagnostics };
}

/**
 * A tokenizer_config.json that makes AutoTokenizer load tokenizer.json as a plain fast tokenizer
 * (no model-specific class rewriting its normalizer) with ftc's special tokens.
 */
function tokenizerConfig(e: ExportedData, maxLength: number): string {
  const config: Record<string, JsonValue> = {
    tokenizer_class: 'PreTrainedTokenizerFast',
    bos_token: e.specials.bos?.text ?? null,
    eos_token: e.specials.eos?.text ?? null,
    pad_token: e.specials.pad?.text ?? null,
    model_max_length: maxLength,
    padding_side: 'right',
    ...(e.chatTemplate !== undefined ? { chat_template: e.chatTemplate } : {}),
  };
  return JSON.stringify(config, null, 2) + '\n';
}
