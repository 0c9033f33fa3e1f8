import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { PipelineIR, StageIR } from '../compiler/ir.js';
import { planPipeline } from '../compiler/plan.js';
import { FtcError } from '../errors.js';
import { isFourBit } from '../model-spec/quantization.js';
import type { ModelArgs } from '../runtime/model/open.js';
import { compilePipelineForCli } from './compile-files.js';

/**
 * Resolves a pipeline file to its model directory (the model stage's path) and adapter (the trainer's
 * output directory, once it holds an adapter; once it holds a fully fine-tuned model, that is the model).
 * Explicit --model/--adapter win over the pipeline.
 * The pipeline is compiled here, in the CLI, so every diagnostic is printed; undefined (exit code set) when it has errors.
 * The compiled IR comes back too, for what else the command reads from the pipeline (generate's prompt template).
 * A QLoRA adapter on the pipeline's own model also gets the 4-bit base `ftc run` cached (cachedQuantizedBase).
 */
export async function argsFromPipeline(file: string, explicit: ModelArgs): Promise<{ args: ModelArgs; ir: PipelineIR } | undefined> {
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
  const quantizedBase = trainer && adapter && !explicit.model ? await cachedQuantizedBase(ir, trainer, adapter) : undefined;
  if (quantizedBase) process.stderr.write(`4-bit base read from the cache of \`ftc run\` (${quantizedBase}), not quantized again\n`);
  return { args: { ...explicit, model, adapter, ...(quantizedBase ? { quantizedBase } : {}) }, ir };
}

/**
 * The lora stage's cached 4-bit base (base-4bit.safetensors), when `ftc run` made one for the pipeline's model in
 * the adapter's quantization. Reading it spares quantizing the base again at every load (424 s for the bench's
 * Llama-2-7B shape, with the whole bf16 model read to the host first). The lora stage's cache key covers the model's content
 * and the lora settings, so a hit is the base this model quantizes to; the entry's checksums are verified, as
 * `ftc run` verifies them. Any miss (an edited model, `--set` overrides at run, a cleared cache, another
 * quantization) is undefined, and the load quantizes as before.
 */
async function cachedQuantizedBase(ir: PipelineIR, trainer: StageIR, adapter: string): Promise<string | undefined> {
  const lora = ir.stages.find((s) => s.kind === 'lora' && s.name === trainer.params.model);
  if (!lora || !isFourBit(lora.params.quantization)) return undefined;
  // Loaded on use: only a QLoRA pipeline reaches here.
  const [{ readQuantizationFile }, { ArtifactCache, defaultCacheDir }, { readLoraArtifact }] = await Promise.all([
    import('../runtime/quant/base-4bit.js'), import('../runtime/cache.js'), import('../runtime/stages/lora.js')]);
  const wanted = readQuantizationFile(adapter);
  if (!wanted) return undefined;
  // A key depends only on its upstream stages: plan the lora stage and its ancestors, not the data.
  const needed = ancestors(ir, lora);
  let key: string;
  try {
    key = (await planPipeline({ ...ir, stages: ir.stages.filter((s) => needed.has(s.name)) })).stages.find((s) => s.name === lora.name)!.key;
  } catch (e) {
    if (e instanceof FtcError) return undefined; // a missing model: the load reports it
    throw e;
  }
  const cache = new ArtifactCache(defaultCacheDir(ir.dir), () => undefined);
  if ((await cache.check(key, true)).status !== 'hit') return undefined;
  const artifact = readLoraArtifact({ dir: cache.entryDir(key) });
  const q = artifact.settings.quantization;
  if (!artifact.quantized_base || q?.type !== wanted.type || q.doubleQuant !== wanted.doubleQuant) return undefined;
  return join(cache.entryDir(key), artifact.quantized_base);
}

/** The stage and every stage upstream of it: one pass back over the IR's topological order. */
function ancestors(ir: PipelineIR, stage: StageIR): Set<string> {
  const out = new Set([stage.name]);
  for (const s of [...ir.stages].reverse()) if (out.has(s.name)) s.inputs.forEach((n) => out.add(n));
  return out;
}
