import { withMemoryStage } from '../kernels/heap.js';
import * as tf from '../tf.js';
import type { FullSettings, WeightMap } from './api.js';
import type { LlamaConfig } from '../../model-spec/config.js';
import { LINEAR_MODULES } from '../../model-spec/modules.js';
import { trainedWeightNames } from '../../model-spec/train-modules.js';
import { checkFinite, checkWeights, type BuiltModel } from './build.js';
import type { DecoderLayer, Linear, LinearName, LlamaModules } from './llama.js';
import { TrainedLinear, variableOf } from './lora.js';
import { FrozenLinear } from './matmul.js';
import { modulePath } from './peft.js';

/**
 * The device-side model for full fine-tuning: every weight `full.trainModules` names (all of them by default)
 * becomes a float32 tf.Variable under its Hugging Face name, differentiated by tfjs' own gradients (a trained
 * linear is a TrainedLinear, whose product has a weight gradient; norms and the embedding are plain tensors the
 * ops differentiate). The other weights stay frozen exactly as buildModel leaves them. Tied embeddings are one
 * Variable, read by the embedding lookup and the LM head, so its gradient is the sum of both.
 */
export function buildFullModel(config: LlamaConfig, weights: WeightMap, full: FullSettings, opts: { releaseHost?: boolean } = {}): BuiltModel {
  return withMemoryStage('uploading the model weights', () => build(config, weights, full, opts.releaseHost ?? false));
}

function build(config: LlamaConfig, weights: WeightMap, full: FullSettings, releaseHost: boolean): BuiltModel {
  checkWeights(config, weights);
  for (const [name, w] of weights) checkFinite(name, w);
  const trained = new Set(trainedWeightNames(config, full.trainModules));
  const params = new Map<string, tf.Variable>();
  /** The named weight on the device: a Variable (registered in `params`) when it is trained. */
  const upload = <T extends tf.Tensor>(name: string): T => {
    const w = weights.get(name)!;
    const t = tf.tensor(w.data, w.shape, 'float32');
    if (releaseHost) weights.delete(name);
    if (!trained.has(name)) return t as T;
    const v = variableOf(t);
    params.set(name, v);
    return v as unknown as T;
  };
  const linearOf = (w: tf.Tensor2D, bias?: tf.Tensor1D): FrozenLinear =>
    w instanceof tf.Variable ? new TrainedLinear(w, bias) : FrozenLinear.fromWeight(w, bias);

  const layers: DecoderLayer[] = [];
  for (let i = 0; i < config.numHiddenLayers; i++) {
    const linear = {} as Record<LinearName, Linear>;
    for (const name of LINEAR_MODULES) {
      const path = modulePath(i, name);
      const bias = weights.has(`${path}.bias`) ? upload<tf.Tensor1D>(`${path}.bias`) : undefined;
      linear[name] = linearOf(upload<tf.Tensor2D>(`${path}.weight`), bias);
    }
    layers.push({
      inputNorm: upload<tf.Tensor1D>(`model.layers.${i}.input_layernorm.weight`),
      postNorm: upload<tf.Tensor1D>(`model.layers.${i}.post_attention_layernorm.weight`),
      linear,
    });
  }
  const embed = upload<tf.Tensor2D>('model.embed_tokens.weight'); // [V, E]
  const tied = config.tieWordEmbeddings || !weights.has('lm_head.weight');
  const lmHead = linearOf(tied ? embed : upload<tf.Tensor2D>('lm_head.weight')); // [V, E]
  const modules: LlamaModules = { config, embed, layers, norm: upload<tf.Tensor1D>('model.norm.weight'), lmHead };
  return { modules, adapters: new Map(), params };
}
