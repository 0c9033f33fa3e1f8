import { FtcError } from '../../errors.js';
import * as tf from '../tf.js';
import type { CausalLM, ForwardOptions, HostTensor, LoraSettings, WeightMap } from './api.js';
import { buildModel, disposeModel, type BuiltModel } from './build.js';
import { loadLlamaConfig, type LlamaConfig } from './config.js';
import { decode, lmHead, type LayerCache } from './llama.js';
import { toPeftHost } from './lora.js';
import { loadAdapter } from './peft.js';
import { loadWeights } from './weights.js';

/** A CausalLM plus what generate, score and export need beyond the trainer's contract. */
export interface LlamaCausalLM extends CausalLM {
  /** ids [B, T] continuing `past` → logits of the new positions [B·T, V] and the extended cache. */
  step(ids: tf.Tensor2D, past?: LayerCache[]): { logits: tf.Tensor2D; cache: LayerCache[] };
  /** Adapter parameters by PEFT key, in PEFT's orientation (A [r, in], B [out, r]), on the host. */
  exportAdapter(): Map<string, HostTensor>;
  /** Sets adapter parameters from PEFT-oriented host tensors; every key must be one of this model's. */
  importAdapter(tensors: Map<string, HostTensor>): void;
}

/** The label value whose positions the loss ignores (PyTorch's ignore_index). */
export const IGNORE_INDEX = -100;

export function createCausalLM(config: LlamaConfig, weights: WeightMap, lora?: LoraSettings): LlamaCausalLM {
  const built = buildModel(config, weights, lora);
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
      return tf.tidy(() => nextTokenLoss(logitsFlat(ids, opts), labels));
    },

    step(ids, past) {
      checkIds(ids, v);
      // tidy keeps tensors nested in the returned object; the casts only satisfy its TensorContainer type.
      return tf.tidy(() => {
        const { hidden, cache } = decode(modules, ids, { past, keepCache: true });
        return { logits: lmHead(modules, hidden), cache: cache! } as unknown as tf.TensorContainer;
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
 * `lora` settings the adapter's own adapter_config.json decides r, alpha and the target modules.
 */
export function loadCausalLM(dir: string, opts: { adapterDir?: string; lora?: LoraSettings } = {}): LlamaCausalLM {
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
      seed: 0,
    });
  const model = createCausalLM(config, loadWeights(dir, config), lora);
  if (adapter) model.importAdapter(adapter.tensors);
  return model;
}

/**
 * Mean cross-entropy of position t predicting label t+1 (Hugging Face's shift), over labels ≠ -100.
 * logits [N = B·T, V] flat, so the head stays one plain 2-D product; a batch with no counted label has
 * loss 0 (and zero gradient) rather than NaN, so a fully masked micro-batch cannot stop a run.
 */
export function nextTokenLoss(logits: tf.Tensor2D, labels: tf.Tensor2D): tf.Scalar {
  return tf.tidy(() => {
    const [b, t] = labels.shape;
    const v = logits.shape[1];
    const ignoreLast = tf.fill([b, 1], IGNORE_INDEX, 'int32');
    const targets = tf.reshape(tf.concat([tf.slice(tf.cast(labels, 'int32'), [0, 1], [b, t - 1]), ignoreLast], 1), [b * t]); // [N]
    const counted = tf.notEqual(targets, IGNORE_INDEX); // [N]
    const safeTargets = tf.where(counted, targets, tf.zerosLike(targets)); // [N]
    const weights = tf.cast(counted, 'float32'); // [N]
    const scale = tf.div(weights, tf.maximum(tf.sum(weights), 1)); // [N]: 1/count where counted, else 0
    return weightedCrossEntropy(logits, safeTargets as tf.Tensor1D, scale as tf.Tensor1D, v);
  });
}

/**
 * Σₙ scaleₙ · (logsumexp(logitsₙ) − logitsₙ[targetₙ]), differentiable in `logits` only, with the gradient
 * written out: (softmax − onehot) · scaleₙ · dy. Autodiff of logSoftmax + oneHot·mul + sum would run exp over
 * the [N, V] logits twice and several more [N, V] passes; this runs exp once and reuses it (the lm_head's
 * logits are the largest element-wise tensor of a step).
 */
function weightedCrossEntropy(logits: tf.Tensor2D, targets: tf.Tensor1D, scale: tf.Tensor1D, v: number): tf.Scalar {
  const n = logits.shape[0];
  const f = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
    const [x, save] = args as [tf.Tensor2D, tf.GradSaveFunc];
    const shifted = tf.sub(x, tf.max(x, -1, true)); // [N, V]
    const e = tf.exp(shifted); // [N, V]
    const s = tf.sum(e, -1, true); // [N, 1]
    const flatTargets = tf.add(tf.mul(tf.range(0, n, 1, 'int32'), tf.scalar(v, 'int32')), targets); // [N] into [N·V]
    const picked = tf.gather(tf.reshape(shifted, [n * v]), flatTargets); // [N]
    const perRow = tf.sub(tf.reshape(tf.log(s), [n]), picked); // [N] −log p(target)
    // Closure tensors die with the caller's tidy before the backward pass; saved ones are kept for it.
    save([e, s, targets, scale]);
    return {
      value: tf.sum(tf.mul(perRow, scale)) as tf.Scalar,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]): tf.Tensor => {
        const [se, ss, st, sc] = saved as [tf.Tensor2D, tf.Tensor2D, tf.Tensor1D, tf.Tensor1D];
        const coef = tf.reshape(tf.mul(sc, dy), [n, 1]); // [N, 1]
        return tf.sub(tf.mul(se, tf.div(coef, ss)), tf.mul(tf.oneHot(st, v), coef)); // [N, V]
      },
    };
  });
  return f(logits) as tf.Scalar;
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
