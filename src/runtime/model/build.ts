import { FtcError } from '../../errors.js';
import { withMemoryStage } from '../kernels/heap.js';
import * as tf from '../tf.js';
import type { HostTensor, LoraSettings, WeightMap, WeightSource } from './api.js';
import { decodeHalf, firstNonFiniteHalf } from './half.js';
import type { LlamaConfig } from '../../model-spec/config.js';
import { expectedWeightShapes, isOptionalWeight, LINEAR_MODULES as LINEAR_NAMES, resolveTargetModules } from '../../model-spec/modules.js';
import { type DecoderLayer, type Linear, type LinearName, type LlamaModules } from './llama.js';
import { kaimingUniformA, LoraLinear, TrainedLinear, variableOf } from './lora.js';
import { F32Weight, halfKernelsAvailable, uploadFrozenWeight, type FrozenWeight } from './frozen-weight.js';
import { FrozenLinear } from './matmul.js';
import { frozen4bit } from '../quant/frozen-4bit.js';
import type { Quantized4bit } from '../quant/quantize4bit.js';
import { modulePath, peftBiasKey, savedModuleKey } from './peft.js';
import { Prng } from './prng.js';
import { elementCount } from '../../model-spec/shape.js';

/** The device-side model: frozen modules, the LoRA wrappers in it, and every trainable Variable by PEFT name. */
export interface BuiltModel {
  modules: LlamaModules;
  adapters: Map<string, LoraLinear>; // by PEFT module path
  params: Map<string, tf.Variable>; // lora_A/lora_B (stored transposed) and trained biases, by PEFT key
}

/**
 * Uploads host weights into frozen tensors (plus the transposed copies the fast path reads) and wraps
 * the target modules in LoRA. A weight that is missing or mis-shaped, or a target module the model does not
 * have, is an FtcError naming it.
 */
export function buildModel(config: LlamaConfig, weights: WeightMap | WeightSource, lora?: LoraSettings, opts: BuildOptions = {}): BuiltModel {
  const source = weights instanceof Map ? mapSource(weights, opts.releaseHost ?? false) : weights;
  return withMemoryStage('uploading the model weights', () => build(config, source, lora, opts.quantized ?? new Map(), opts.streamQuantized ?? false));
}

export interface BuildOptions {
  releaseHost?: boolean;
  /** QLoRA: linear weights held 4-bit, by weight name; `weights` need not hold them (src/runtime/quant/base-4bit.ts). */
  quantized?: Map<string, Quantized4bit>;
  /**
   * The memory plan's `streamed` placement (src/model-spec/memory.ts frozenPlacement): the 4-bit linears stay
   * on the host and are staged into the heap per product (src/runtime/quant/streamed-nf4-weight.ts).
   */
  streamQuantized?: boolean;
}

/**
 * A map as a source. With `releaseHost`, each host tensor leaves the map as soon as it is taken, so the garbage
 * collector can free it once uploaded while the rest upload. Only for a map nobody else reads.
 */
export function mapSource(weights: WeightMap, releaseHost: boolean): WeightSource {
  return {
    info: (name) => {
      const w = weights.get(name);
      return w && { shape: w.shape, length: hostLength(w) };
    },
    take: (name) => {
      const w = weights.get(name)!;
      if (releaseHost) weights.delete(name);
      return w;
    },
  };
}

/**
 * Takes each tensor from `weights` as it uploads it, so with a source that reads on demand (openWeights) the host
 * holds one tensor at a time. Shapes are checked first, from `info` alone; each tensor is checked finite when
 * taken, and if one is not, everything uploaded so far is freed before the error leaves.
 */
function build(config: LlamaConfig, weights: WeightSource, lora: LoraSettings | undefined, quantized: Map<string, Quantized4bit>, streamed: boolean): BuiltModel {
  checkWeights(config, weights, quantized);
  const made: Array<{ dispose(): void }> = [];
  try {
    return assemble(config, weights, lora, quantized, streamed, made);
  } catch (e) {
    for (const m of made) m.dispose();
    throw e;
  }
}

function assemble(config: LlamaConfig, weights: WeightSource, lora: LoraSettings | undefined, quantized: Map<string, Quantized4bit>, streamed: boolean,
  made: Array<{ dispose(): void }>): BuiltModel {
  const has = (name: string) => weights.info(name) !== undefined;
  const take = (name: string): HostTensor => {
    const w = weights.take(name);
    checkFinite(name, w);
    return w;
  };
  const targets = lora ? new Set(resolveTargetModules(lora.targetModules, config.architecture)) : new Set<LinearName>();
  const rng = new Prng(lora?.seed ?? 0);
  const adapters = new Map<string, LoraLinear>();
  const params = new Map<string, tf.Variable>();
  const upload = (name: string): tf.Tensor => {
    const w = take(name);
    const t = tf.tensor(w.data, w.shape, 'float32');
    made.push(t);
    return t;
  };
  /** A frozen embedding table: 16-bit like a linear weight; in float32, transposed for the head only when tied. */
  const uploadFrozenEmbedding = (name: string, tied: boolean): FrozenWeight => {
    const host = take(name);
    const w = host.half && halfKernelsAvailable() ? uploadFrozenWeight(host) : new F32Weight(tf.tensor2d(host.data, host.shape as [number, number]), { transposedCopy: tied });
    made.push(w);
    return w;
  };
  /** A frozen linear weight, 16-bit where the backend's kernels take it (frozen-weight.ts). */
  const uploadFrozen = (name: string): FrozenWeight => {
    const w = uploadFrozenWeight(take(name));
    made.push(w);
    return w;
  };

  const layers: DecoderLayer[] = [];
  let moduleIndex = 0;
  for (let i = 0; i < config.numHiddenLayers; i++) {
    const linear = {} as Record<LinearName, Linear>;
    for (const name of LINEAR_NAMES) {
      const path = modulePath(i, name);
      const hasBias = has(`${path}.bias`);
      const adapted = targets.has(name);
      const trainBias = hasBias && (lora?.bias === 'all' || (lora?.bias === 'lora_only' && adapted));
      let bias: tf.Tensor1D | undefined;
      if (hasBias) {
        const b = upload(`${path}.bias`) as tf.Tensor1D;
        // PEFT trains only biases the base already has; it never adds one.
        bias = trainBias ? variableOf(b) : b;
        if (trainBias) {
          params.set(peftBiasKey(i, name), bias as tf.Variable);
          made.push(bias);
        }
      }
      const q = quantized.get(`${path}.weight`);
      const base = new FrozenLinear(q ? frozen4bit(q, { streamed }) : uploadFrozen(`${path}.weight`), bias);
      if (q) made.push(base);
      if (adapted && lora) {
        const peftPath = `base_model.model.${path}`;
        const a = new LoraLinear(base, peftPath, lora, kaimingUniformA(rng, lora.r, base.inFeatures), moduleIndex);
        adapters.set(peftPath, a);
        made.push(a);
        params.set(`${peftPath}.lora_A.weight`, a.aT);
        params.set(`${peftPath}.lora_B.weight`, a.bT);
        if (a.magnitude) params.set(`${peftPath}.lora_magnitude_vector`, a.magnitude);
        linear[name] = a;
      } else {
        linear[name] = base;
      }
      moduleIndex++;
    }
    layers.push({
      inputNorm: upload(`model.layers.${i}.input_layernorm.weight`) as tf.Tensor1D,
      postNorm: upload(`model.layers.${i}.post_attention_layernorm.weight`) as tf.Tensor1D,
      linear,
    });
  }

  const toSave = lora?.modulesToSave ?? [];
  const tied = config.tieWordEmbeddings || !has('lm_head.weight');
  if (tied && toSave.length > 0) {
    throw new FtcError('E_LORA_MODULES_TO_SAVE', `modules_to_save [${toSave.join(', ')}] on a model whose lm_head is tied to embed_tokens`, undefined,
      'ftc trains embed_tokens / lm_head fully only when the model has its own lm_head.weight (tie_word_embeddings false)');
  }
  // modules_to_save: the whole weight is a Variable, named as PEFT saves it.
  const trained = (module: string, t: tf.Tensor2D): tf.Tensor2D => {
    if (!toSave.includes(module)) return t;
    const v = variableOf(t);
    params.set(savedModuleKey(module), v);
    made.push(v);
    return v;
  };
  // [V, E]. Frozen, it is a FrozenWeight in its stored format (bf16 stays 16-bit on wasm: half the memory, and
  // the tied LM head's one-token product reads half the bytes); tied, the head is the same object, freed once.
  const embed = toSave.includes('embed_tokens')
    ? trained('embed_tokens', upload('model.embed_tokens.weight') as tf.Tensor2D)
    : uploadFrozenEmbedding('model.embed_tokens.weight', tied);
  const lmHead = tied
    ? new FrozenLinear(embed as FrozenWeight)
    : toSave.includes('lm_head')
      ? new TrainedLinear(trained('lm_head', upload('lm_head.weight') as tf.Tensor2D) as tf.Variable<tf.Rank.R2>)
      : new FrozenLinear(uploadFrozen('lm_head.weight'));
  const modules: LlamaModules = { config, embed, layers, norm: upload('model.norm.weight') as tf.Tensor1D, lmHead };
  return { modules, adapters, params };
}

/** Frees every tensor of the model, tied embeddings once. */
export function disposeModel(m: BuiltModel): void {
  const { modules } = m;
  for (const layer of modules.layers) {
    tf.dispose([layer.inputNorm, layer.postNorm]);
    for (const l of Object.values(layer.linear)) {
      if (l instanceof LoraLinear) {
        l.dispose();
        l.base.dispose();
      } else l.dispose();
    }
  }
  modules.lmHead.dispose();
  // A tied head's weight is the embedding itself, which the head's dispose already freed.
  if (modules.embed instanceof tf.Tensor) modules.embed.dispose();
  else if (modules.lmHead.weight !== modules.embed) modules.embed.dispose();
  modules.norm.dispose();
}


/** Every tensor the config needs, with the right shape, before anything is read or uploaded (values are checked as they are taken). */
export function checkWeights(config: LlamaConfig, weights: WeightMap | WeightSource, quantized: Map<string, Quantized4bit> = new Map()): void {
  const info = weights instanceof Map ? (name: string) => { const w = weights.get(name); return w && { shape: w.shape, length: hostLength(w) }; } : (name: string) => weights.info(name);
  const problems: string[] = [];
  for (const [name, shape] of expectedWeightShapes(config)) {
    // A 4-bit weight's shape is its quantization state's, and it holds every value; a host tensor is counted.
    const q = quantized.get(name);
    const found = q ? { shape: q.shape, length: elementCount(q.shape) } : info(name);
    if (!found) {
      if (!isOptionalWeight(name, config)) problems.push(`missing ${name} (expected [${shape}])`);
    } else if (found.shape.length !== shape.length || found.shape.some((d, i) => d !== shape[i]) || found.length < elementCount(shape)) {
      problems.push(`${name}: expected [${shape}], found [${found.shape}]`);
    }
  }
  if (problems.length > 0) {
    throw new FtcError('E_MODEL_WEIGHTS_MISMATCH', `weights do not match config.json:\n  ${problems.slice(0, 20).join('\n  ')}`, undefined,
      'the weights belong to a different model than config.json describes');
  }
}

/**
 * A NaN or infinity in a frozen weight poisons every loss from the first step, far from its cause; it is
 * found here, once per load, while the values are on the host and before anything is uploaded.
 */
export function checkFinite(name: string, w: HostTensor): void {
  const nonFinite = (x: number, i: number) =>
    new FtcError('E_MODEL_WEIGHTS_NONFINITE', `weight ${name} holds ${x} at flat index ${i}`, undefined,
      'the checkpoint is corrupt, or was saved after training diverged: re-download or re-export it');
  if (w.half) {
    // On the stored bits: reading `data` would widen the weight on the host, which 16-bit loading avoids.
    const i = firstNonFiniteHalf(w.half, hostLength(w));
    if (i >= 0) throw nonFinite(decodeHalf(w.half.format, w.half.bits[i]!), i);
    return;
  }
  const data = w.data;
  for (let i = 0; i < data.length; i++) {
    const x = data[i]!;
    if (x - x !== 0) throw nonFinite(x, i);
  }
}

/** Values a host tensor holds, without decoding a 16-bit one (its bits may carry one padding value). */
function hostLength(w: HostTensor): number {
  return w.half ? Math.min(w.half.bits.length, elementCount(w.shape)) : w.data.length;
}
