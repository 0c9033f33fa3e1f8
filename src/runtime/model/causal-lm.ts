import { FtcError } from '../../errors.js';
import * as tf from '../tf.js';
import type { CausalLM, ForwardOptions, FullSettings, HostTensor, LoraSettings, WeightMap, WeightSource } from './api.js';
import { buildModel, disposeModel, type BuildOptions as LoraBuildOptions, type BuiltModel } from './build.js';
import { buildFullModel } from './build-full.js';
import { quantizeWeightMap, readQuantizedBase } from '../quant/base-4bit.js';
import { loadLlamaConfig, type LlamaConfig } from '../../model-spec/config.js';
import { IGNORE_INDEX } from '../../model-spec/labels.js';
import { decode, lmHead, type LayerCache } from './llama.js';
import { headLoss } from './loss.js';
import { toPeftHost } from './lora.js';
import { loadAdapter } from './peft.js';
import { loadWeights, openWeights } from './weights.js';
import { estimateMemory, type FrozenPlacement, type TrainingShape } from '../../model-spec/memory.js';
import { trainingMemoryTarget } from '../train/parallel/threads.js';

/** A CausalLM plus what generate, score and export need beyond the trainer's contract. */
export interface LlamaCausalLM extends CausalLM {
  /**
   * ids [B, T] continuing `past` → logits of each row's last position [B, V] (all a next token needs: the
   * head never runs on the other T − 1, which for a prompt and a large vocabulary is most of the pass's work)
   * and the extended cache.
   */
  step(ids: tf.Tensor2D, past?: LayerCache[]): { logits: tf.Tensor2D; cache: LayerCache[] };
  /** Adapter parameters by PEFT key, in PEFT's orientation (A [r, in], B [out, r]), on the host; full fine-tuning's trained weights by HF name. */
  exportAdapter(): Map<string, HostTensor>;
  /** Sets adapter parameters from PEFT-oriented host tensors; every key must be one of this model's. */
  importAdapter(tensors: Map<string, HostTensor>): void;
}


/** Options of a model build: `full` trains whole weights (full fine-tuning) instead of a LoRA adapter. */
export interface BuildOptions extends LoraBuildOptions {
  full?: FullSettings;
}

/** `weights` a map (every tensor on the host) or a source read one tensor at a time (LoRA builds only). */
export function createCausalLM(config: LlamaConfig, weights: WeightMap | WeightSource, lora?: LoraSettings, opts: BuildOptions = {}): LlamaCausalLM {
  if (lora && opts.full) throw new Error('a model is built for LoRA or for full fine-tuning, not both');
  if (opts.full && !(weights instanceof Map)) throw new Error('full fine-tuning builds from a weight map');
  const built = opts.full && weights instanceof Map ? buildFullModel(config, weights, opts.full, opts) : buildModel(config, weights, lora, opts);
  const { modules, params } = built;
  const v = config.vocabSize;

  const logitsFlat = (ids: tf.Tensor2D, opts: ForwardOptions = {}): tf.Tensor2D =>
    lmHead(modules, decode(modules, ids, { training: opts.training, dropoutSeed: opts.dropoutSeed }).hidden); // [N, V]

  return {
    config,
    forward(ids, opts) {
      checkIds(ids, v);
      const [b, t] = ids.shape;
      return tf.tidy(() => tf.reshape(logitsFlat(ids, opts), [b, t, v]) as tf.Tensor3D); // [B, T, V]
    },

    loss(ids, labels, opts) {
      checkIds(ids, v);
      const { training, dropoutSeed, gradientCheckpointing } = opts ?? {};
      return tf.tidy(() => headLoss(decode(modules, ids, { training, dropoutSeed, gradientCheckpointing }).hidden, modules.lmHead, labels));
    },

    step(ids, past) {
      checkIds(ids, v);
      // tidy keeps tensors nested in the returned object; the casts only satisfy its TensorContainer type.
      return tf.tidy(() => {
        const [b, t] = ids.shape;
        const { hidden, cache } = decode(modules, ids, { past, keepCache: true }); // hidden [B·T, E]
        const e = hidden.shape[1];
        const last = t === 1 ? hidden : (tf.reshape(tf.slice(tf.reshape(hidden, [b, t, e]), [0, t - 1, 0], [b, 1, e]), [b, e]) as tf.Tensor2D); // [B, E]
        return { logits: lmHead(modules, last), cache: cache! } as unknown as tf.TensorContainer;
      }) as unknown as { logits: tf.Tensor2D; cache: LayerCache[] };
    },

    adapterParams: () => new Map(params),
    exportAdapter: () => exportParams(built),
    importAdapter: (tensors) => importParams(built, tensors),
    dispose: () => disposeModel(built),
  };
}

/**
 * Loads a Hugging Face model directory, optionally with a PEFT adapter directory applied. Without explicit
 * `lora` settings the adapter's own adapter_config.json decides r, alpha and the target modules, and an adapter
 * trained on a 4-bit base (one with quantization_config.json) gets that base again.
 * With `lora.quantization` the linears are 4-bit: read from `quantizedBase` (the lora stage's cached
 * quantization) when given, else quantized here from the model's weights.
 */
export function loadCausalLM(dir: string, opts: {
  adapterDir?: string; lora?: LoraSettings; full?: FullSettings; quantizedBase?: string;
  /**
   * The memory plan's `streamed` placement: the 4-bit linears stay on the host (build.ts streamQuantized). The
   * trainer passes its own plan's decision; absent (generate, score), `inferencePlacement` decides.
   */
  streamQuantized?: boolean;
} = {}): LlamaCausalLM {
  const config = loadLlamaConfig(dir);
  const adapter = opts.adapterDir ? loadAdapter(opts.adapterDir, config) : undefined;
  const lora: LoraSettings | undefined =
    opts.lora ??
    (adapter && {
      r: adapter.config.r,
      alpha: adapter.config.alpha,
      targetModules: adapter.config.targetModules,
      dropout: adapter.config.dropout,
      bias: adapter.config.bias,
      useRslora: adapter.config.useRslora,
      useDora: adapter.config.useDora,
      modulesToSave: adapter.config.modulesToSave,
      quantization: adapter.config.quantization,
      seed: 0,
    });
  const quant = lora?.quantization;
  const cached = quant && opts.quantizedBase ? readQuantizedBase(opts.quantizedBase) : undefined;
  // 16-bit linear weights stay 16-bit on the host for a frozen base; the build uploads them as they are or widens
  // them one at a time (frozen-weight.ts). Full fine-tuning trains float32 Variables, so it reads them widened.
  const load = { keepHalf: !opts.full, skip: (name: string) => cached?.has(name) ?? false };
  // A LoRA build takes each tensor from its shard as it uploads it, so the host holds about one tensor at a time,
  // not the model. Full fine-tuning and quantizing here read them all first (they take a map); that map is this
  // call's alone, so its host copies go as they are uploaded.
  const eager = opts.full !== undefined || (quant !== undefined && cached === undefined);
  const weights = eager ? loadWeights(dir, config, load) : openWeights(dir, config, load);
  const quantized = cached ?? (quant && weights instanceof Map ? quantizeWeightMap(weights, config, quant) : undefined);
  const streamQuantized = opts.streamQuantized ?? (lora?.quantization !== undefined && tf.getBackend() === 'wasm' && inferencePlacement(config, lora) === 'streamed');
  const model = createCausalLM(config, weights, lora, { releaseHost: true, quantized, streamQuantized, full: opts.full });
  if (adapter) model.importAdapter(adapter.tensors);
  return model;
}

/** The sequence length `inferencePlacement` plans for: a prompt and its continuation, or a scored text. */
export const INFERENCE_PLAN_LENGTH = 1024;

/**
 * Where a 4-bit base's linears live on wasm when no trainer planned it (ftc generate and score with a QLoRA
 * adapter): the memory plan of one batch-1 training step of INFERENCE_PLAN_LENGTH tokens with checkpointing.
 * A forward pass with its KV cache holds less than that step (no gradients, no optimizer), so where the plan
 * keeps the base resident, inference fits too; where it streams (Llama-2-7B: the 4-bit base alone is past the
 * heap), inference streams.
 */
export function inferencePlacement(config: LlamaConfig, lora: LoraSettings): FrozenPlacement {
  if (!lora.quantization) return 'resident';
  const shape: TrainingShape = {
    batchSize: 1, maxLength: Math.min(INFERENCE_PLAN_LENGTH, config.maxPositionEmbeddings), ...loraMemoryShape(lora),
    dropout: false, gradientCheckpointing: true, workers: 1,
  };
  return estimateMemory(config, shape, trainingMemoryTarget(config, shape, 'wasm')).placement;
}

/** What the memory plan needs to know of a LoRA adapter's trained parameters and its base's quantization. */
export function loraMemoryShape(lora: LoraSettings): Pick<TrainingShape, 'r' | 'targetModules' | 'dropout' | 'bias' | 'useDora' | 'modulesToSave' | 'quantization' | 'doubleQuant'> {
  return {
    r: lora.r, targetModules: [...lora.targetModules], dropout: lora.dropout > 0, bias: lora.bias, useDora: lora.useDora, modulesToSave: lora.modulesToSave,
    ...(lora.quantization ? { quantization: lora.quantization.type, doubleQuant: lora.quantization.doubleQuant } : {}),
  };
}

function checkIds(ids: tf.Tensor2D, vocab: number): void {
  if (ids.rank !== 2) throw new Error(`ids must be [B, T], got [${ids.shape}]`);
  if (ids.dtype !== 'int32') throw new Error(`ids must be int32, got ${ids.dtype}`);
  if (vocab <= 0) throw new Error('empty vocabulary');
}

function isMatrix(key: string): boolean {
  return key.endsWith('.lora_A.weight') || key.endsWith('.lora_B.weight');
}

function exportParams(m: BuiltModel): Map<string, HostTensor> {
  const out = new Map<string, HostTensor>();
  for (const [key, v] of m.params) out.set(key, toPeftHost(v, isMatrix(key)));
  return out;
}

function importParams(m: BuiltModel, tensors: Map<string, HostTensor>): void {
  for (const [key, t] of tensors) {
    const v = m.params.get(key);
    if (!v) {
      throw new FtcError('E_ADAPTER_KEYS', `adapter tensor "${key}" has no counterpart in the model`, undefined,
        `the model's adapter parameters are ${[...m.params.keys()].slice(0, 4).join(', ')}${m.params.size > 4 ? ', ...' : ''}`);
    }
    const want = isMatrix(key) ? [v.shape[1], v.shape[0]] : v.shape;
    if (t.shape.length !== want.length || t.shape.some((d, i) => d !== want[i])) {
      throw new FtcError('E_ADAPTER_SHAPE', `adapter tensor "${key}" has shape [${t.shape}], the model expects [${want}]`);
    }
    tf.tidy(() => {
      const value = tf.tensor(t.data, t.shape, 'float32');
      v.assign(isMatrix(key) ? tf.transpose(value) : value);
    });
  }
}
