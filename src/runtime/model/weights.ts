import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { FtcError } from '../../errors.js';
import type { HostTensor, WeightMap, WeightSource } from './api.js';
import type { LlamaConfig } from '../../model-spec/config.js';
import { expectedWeightShapes, isOptionalWeight } from '../../model-spec/modules.js';
import { readSafetensorsHeader, readSafetensorsIndex, readSafetensorsTensor, type TensorInfo } from './safetensors.js';
import { elementCount } from '../../model-spec/shape.js';

/** Where each tensor of a model directory lives: model.safetensors, or the shards of an index. */
export function locateWeights(dir: string): Map<string, string> {
  const single = join(dir, 'model.safetensors');
  if (existsSync(single)) {
    const names = readSafetensorsHeader(single).tensors.keys();
    return new Map([...names].map((n) => [n, single]));
  }
  const index = join(dir, 'model.safetensors.index.json');
  if (existsSync(index)) return readSafetensorsIndex(index);
  const hasBin = existsSync(join(dir, 'pytorch_model.bin')) || existsSync(join(dir, 'pytorch_model.bin.index.json'));
  throw new FtcError('E_MODEL_WEIGHTS_MISSING', `no model.safetensors or model.safetensors.index.json in ${dir}`, { file: dir },
    hasBin
      ? 'the model has only PyTorch .bin weights; convert them with transformers: model.save_pretrained(dir, safe_serialization=True)'
      : '`ftc init-model DIR` writes a small model; a Hugging Face download holds model.safetensors');
}

export interface LoadOptions {
  /** F16/BF16 frozen matrices (the projections, lm_head and embed_tokens: isFrozenMatrix) stay 16-bit on the host; norms and biases are float32. */
  keepHalf?: boolean;
  /** Names never read (a QLoRA base holds them 4-bit). */
  skip?: (name: string) => boolean;
}

/**
 * Opens a model directory's weights (single file or sharded) for a build to take one tensor at a time, after
 * checking from the headers alone that every tensor `config` requires is present with the right shape: a mismatch
 * is reported before any tensor data is read. Tensors the model does not use (rotary inv_freq buffers and the
 * like) are never read, nor those `skip` names. Each `take` reads its tensor from its shard then and there (with
 * `keepHalf`, 16-bit frozen matrices as stored, for the build to upload as they are or widen one at a time).
 */
export function openWeights(dir: string, config: LlamaConfig, opts: LoadOptions = {}): WeightSource & { names: string[] } {
  const where = locateWeights(dir);
  const expected = expectedWeightShapes(config);

  // Shapes from the headers: a mismatch is reported before any tensor data is read.
  const found = new Map<string, { info: TensorInfo; shape: number[]; file: string }>();
  const byShard = new Map<string, string[]>();
  for (const [name, file] of where) {
    if (expected.has(name)) (byShard.get(file) ?? byShard.set(file, []).get(file)!).push(name);
  }
  for (const [file, names] of byShard) {
    const header = readSafetensorsHeader(file);
    for (const name of names) {
      const t = header.tensors.get(name);
      if (!t) {
        throw new FtcError('E_SAFETENSORS_INDEX', `the index maps "${name}" to ${file}, which does not hold it`, { file },
          'the sharded checkpoint is incomplete or its index is stale');
      }
      found.set(name, { info: t, shape: t.shape, file });
    }
  }

  const problems: string[] = [];
  for (const [name, shape] of expected) {
    const f = found.get(name);
    if (!f) {
      if (!isOptionalWeight(name, config)) problems.push(`missing ${name} (expected [${shape}])`);
    } else if (f.shape.length !== shape.length || f.shape.some((d, i) => d !== shape[i])) {
      problems.push(`${name}: expected [${shape}], found [${f.shape}]`);
    }
  }
  const extraLayers = [...where.keys()].filter((n) => {
    const m = /^model\.layers\.(\d+)\./.exec(n);
    return m !== null && Number(m[1]) >= config.numHiddenLayers && !n.endsWith('rotary_emb.inv_freq');
  });
  if (extraLayers.length > 0) problems.push(`${extraLayers.length} tensors for layers beyond num_hidden_layers=${config.numHiddenLayers}, e.g. ${extraLayers[0]}`);
  if (problems.length > 0) {
    const shown = problems.slice(0, 20).join('\n  ') + (problems.length > 20 ? `\n  ... and ${problems.length - 20} more` : '');
    throw new FtcError('E_MODEL_WEIGHTS_MISMATCH', `weights in ${dir} do not match config.json:\n  ${shown}`, { file: join(dir, 'config.json') },
      'the weights belong to a different model than config.json describes');
  }

  const present = (name: string) => (opts.skip?.(name) ? undefined : found.get(name));
  return {
    names: [...found.keys()].filter((n) => present(n) !== undefined),
    info(name) {
      const f = present(name);
      return f && { shape: f.shape, length: elementCount(f.shape) };
    },
    take(name): HostTensor {
      const f = present(name);
      if (!f) throw new Error(`openWeights: ${name} is not in ${dir}`); // callers ask info() first
      return readSafetensorsTensor(f.file, name, f.info, opts.keepHalf === true && isFrozenMatrix(name));
    },
  };
}

/** Reads every tensor `config` needs into memory at once (export, merging, GGUF): openWeights taken whole. */
export function loadWeights(dir: string, config: LlamaConfig, opts: LoadOptions = {}): WeightMap {
  const source = openWeights(dir, config, opts);
  return new Map(source.names.map((name) => [name, source.take(name)]));
}

/** A weight FrozenLinear holds: a decoder projection or lm_head (never embeddings, norms or biases). */
export function isFrozenLinearWeight(name: string): boolean {
  return name === 'lm_head.weight' || (/^model\.layers\.\d+\./.test(name) && name.endsWith('_proj.weight'));
}

/** A matrix the model may keep in its stored 16-bit format: a frozen linear weight, or the embedding table (a FrozenWeight too, build.ts). */
export function isFrozenMatrix(name: string): boolean {
  return isFrozenLinearWeight(name) || name === 'model.embed_tokens.weight';
}
