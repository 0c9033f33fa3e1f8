import type * as tf from '@tensorflow/tfjs-core';

/**
 * The contract between the model code (config, weights, Llama forward, LoRA) and its users
 * (trainer, generate, score, export). Shapes in comments: B batch, T time, V vocabulary.
 */

/** A named weight as read from safetensors: float32 values, upcast on load from F16/BF16. */
export interface HostTensor {
  shape: number[];
  data: Float32Array;
  /**
   * The stored 16-bit values, when the reader was asked to keep them (loadWeights' `keepHalf`): `data` is
   * then decoded from them on first read, and a backend with ftc's 16-bit kernels uploads them as they are.
   */
  half?: HalfValues;
}

/** 16-bit weights as stored: little-endian bit patterns, row-major; `bits` may hold one padding value more. */
export interface HalfValues {
  format: 'bf16' | 'f16';
  bits: Uint16Array;
}

/** Weights by Hugging Face name, e.g. `model.layers.0.self_attn.q_proj.weight`. */
export type WeightMap = Map<string, HostTensor>;

/**
 * Weights a model build takes one at a time (weights.ts openWeights reads each from its shard on `take`), so the
 * host holds about one tensor while the model uploads instead of the whole model.
 */
export interface WeightSource {
  /** A tensor's shape and value count without reading its data; undefined when the checkpoint has none. */
  info(name: string): { shape: readonly number[]; length: number } | undefined;
  /** The tensor's values; the source keeps no reference to them, so they are garbage once the caller uploads them. */
  take(name: string): HostTensor;
}

export interface LoraSettings {
  r: number;
  alpha: number;
  /** Module names such as q_proj; `all-linear` already expanded. */
  targetModules: string[];
  dropout: number;
  bias: 'none' | 'all' | 'lora_only';
  useRslora: boolean;
  /** DoRA (PEFT use_dora): a trained magnitude per output row; absent means false. */
  useDora?: boolean;
  /** PEFT modules_to_save: whole modules trained and saved with the adapter (embed_tokens, lm_head); absent means none. */
  modulesToSave?: string[];
  /** QLoRA: the frozen linears are 4-bit (src/runtime/quant/base-4bit.ts); absent means a full-precision base. */
  quantization?: import('../quant/base-4bit.js').QuantSettings;
  seed: number;
}

/**
 * Full fine-tuning: whole weights are trained (tf.Variables in float32), those of `trainModules`
 * (src/model-spec/train-modules.ts names; absent: every weight). Trained parameters go by Hugging Face name.
 */
export interface FullSettings {
  trainModules?: string[];
}

export interface ForwardOptions {
  /** Enables LoRA dropout. */
  training?: boolean;
  /**
   * Seed for this step's dropout masks (deterministic training). Masks are drawn per example: row r of the
   * batch uses `dropoutSeed[r]`, or deriveSeed(dropoutSeed, r) for a single number, so an example gets the
   * same mask whichever batch or data-parallel worker it lands in (pass its seed with it).
   */
  dropoutSeed?: number | number[];
  /**
   * With `training`: keep only each decoder layer's input for the backward pass and recompute the layer
   * there (Hugging Face's gradient_checkpointing), so activation memory is one layer's, not every layer's.
   */
  gradientCheckpointing?: boolean;
}

export interface CausalLM {
  readonly config: import('../../model-spec/config.js').LlamaConfig;
  /** ids [B, T] int32 → logits [B, T, V]. */
  forward(ids: tf.Tensor2D, opts?: ForwardOptions): tf.Tensor3D;
  /**
   * Mean next-token cross-entropy over positions whose label is not -100.
   * `labels` [B, T] are aligned with `ids` (HF convention: the shift happens inside).
   */
  loss(ids: tf.Tensor2D, labels: tf.Tensor2D, opts?: ForwardOptions): tf.Scalar;
  /** Exactly what the optimizer sees: the adapter parameters (and trainable biases) by PEFT name; under full fine-tuning the trained weights by Hugging Face name. */
  adapterParams(): Map<string, tf.Variable>;
  dispose(): void;
}
