import { existsSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { FtcError } from '../../errors.js';
import { loadLlamaConfig, type LlamaConfig } from '../../model-spec/config.js';
import { expectedWeightShapes, isOptionalWeight } from '../../model-spec/modules.js';
import { readSafetensorsHeader } from '../model/safetensors.js';
import { locateWeights } from '../model/weights.js';
import type { StageContext, StageImpl, StageSummary } from '../stage.js';
import { elementCount } from '../../model-spec/shape.js';

/** The model stage's artifact: a small manifest pointing at the model directory (the weights are never copied). */
export const MODEL_MANIFEST = 'model.json';

export interface ModelManifest {
  /** The model directory as written in the pipeline, relative to the pipeline's directory. */
  path: string;
  architecture: string;
  vocab_size: number;
  hidden_size: number;
  num_hidden_layers: number;
  num_attention_heads: number;
  num_key_value_heads: number;
  max_position_embeddings: number;
  parameters: number;
  has_tokenizer: boolean;
}

/**
 * Checks a Hugging Face model directory without loading it: config.json parses into a supported
 * Llama-family config, and the safetensors headers hold every tensor that config needs, with its shape.
 */
export const modelStage: StageImpl = {
  kind: 'model',
  version: 1,
  async run(ctx: StageContext): Promise<StageSummary> {
    const path = ctx.stage.params.path as string;
    const dir = resolve(ctx.pipeline.dir, path);
    if (!existsSync(dir) || !statSync(dir).isDirectory()) {
      throw new FtcError('E_MODEL_DIR', `model directory ${path} does not exist`, { file: ctx.pipeline.file },
        '`ftc init-model DIR` writes a small Llama model; or point path at a Hugging Face model directory');
    }
    const config = loadLlamaConfig(dir);
    const parameters = checkWeightHeaders(dir, config);
    const manifest: ModelManifest = {
      path,
      architecture: config.architecture,
      vocab_size: config.vocabSize,
      hidden_size: config.hiddenSize,
      num_hidden_layers: config.numHiddenLayers,
      num_attention_heads: config.numAttentionHeads,
      num_key_value_heads: config.numKeyValueHeads,
      max_position_embeddings: config.maxPositionEmbeddings,
      parameters,
      has_tokenizer: existsSync(join(dir, 'tokenizer.json')),
    };
    writeFileSync(join(ctx.outDir, MODEL_MANIFEST), JSON.stringify(manifest, null, 2) + '\n');
    ctx.log.info(`${config.architecture}: ${config.numHiddenLayers} layers, hidden ${config.hiddenSize}, vocab ${config.vocabSize}, ${formatCount(parameters)} parameters`);
    return { parameters, layers: config.numHiddenLayers };
  },
};

/** From the headers alone: every tensor the config requires is present with the right shape. Returns the parameter count. */
function checkWeightHeaders(dir: string, config: LlamaConfig): number {
  const where = locateWeights(dir);
  const shapes = new Map<string, number[]>();
  for (const file of new Set(where.values())) {
    for (const [name, t] of readSafetensorsHeader(file).tensors) if (where.get(name) === file) shapes.set(name, t.shape);
  }
  const problems: string[] = [];
  let parameters = 0;
  for (const [name, expected] of expectedWeightShapes(config)) {
    const found = shapes.get(name);
    if (!found) {
      if (!isOptionalWeight(name, config)) problems.push(`missing ${name} (expected [${expected}])`);
    } else if (found.join(',') !== expected.join(',')) {
      problems.push(`${name}: expected [${expected}], found [${found}]`);
    } else {
      parameters += elementCount(found);
    }
  }
  if (problems.length > 0) {
    const shown = problems.slice(0, 10).join('\n  ') + (problems.length > 10 ? `\n  ... and ${problems.length - 10} more` : '');
    throw new FtcError('E_MODEL_WEIGHTS_MISMATCH', `weights in ${dir} do not match its config.json:\n  ${shown}`, { file: join(dir, 'config.json') },
      'the weights belong to a different model than config.json describes');
  }
  return parameters;
}

export function formatCount(n: number): string {
  if (n >= 1e9) return `${(n / 1e9).toFixed(2)}B`;
  if (n >= 1e6) return `${(n / 1e6).toFixed(2)}M`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(1)}K`;
  return String(n);
}
