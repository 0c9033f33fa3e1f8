import { FtcError } from '../errors.js';
import type { LlamaConfig } from './config.js';
import { expectedWeightShapes, isOptionalWeight, LINEAR_MODULES, moduleDims, moduleHasBias } from './modules.js';
import { elementCount } from './shape.js';

/** Parameters of the base model as stored: every tensor of `expectedWeightShapes`, lm_head once when tied. */
export function baseParameterCount(c: LlamaConfig): number {
  const g = baseParameterGroups(c);
  return g.linears + g.embeddings + g.vectors;
}

/**
 * The base model's parameters by how they are held: the decoder layers' linear weights (what QLoRA
 * quantizes), the embedding matrices (embed_tokens, and lm_head when untied: bitsandbytes leaves them in the
 * compute dtype), and the vectors (norms, biases: kept in float32).
 */
export function baseParameterGroups(c: LlamaConfig): { linears: number; embeddings: number; vectors: number } {
  const g = { linears: 0, embeddings: 0, vectors: 0 };
  for (const [name, shape] of expectedWeightShapes(c)) {
    if (isOptionalWeight(name, c)) continue;
    const group = shape.length === 1 ? 'vectors' : name.startsWith('model.layers.') ? 'linears' : 'embeddings';
    g[group] += elementCount(shape);
  }
  return g;
}

export type LoraBias = 'none' | 'all' | 'lora_only';

/**
 * Parameters a LoRA adapter trains: A [r, in] and B [out, r] per targeted module and layer (DoRA adds a
 * magnitude per output row), plus the biases `bias` selects (lora_only: of targeted modules; all: of every
 * linear module that has one), plus each module in modules_to_save trained whole ([V, E] each).
 */
export function loraParameterCount(c: LlamaConfig, targets: readonly string[], r: number, bias: LoraBias = 'none',
  extra: { useDora?: boolean; modulesToSave?: readonly string[] } = {}): number {
  let perLayer = 0;
  for (const m of targets) {
    const d = moduleDims(c, m);
    perLayer += r * (d.in + d.out) + (extra.useDora ? d.out : 0);
  }
  const biased = bias === 'none' ? [] : LINEAR_MODULES.filter((m) => (bias === 'all' || targets.includes(m)) && moduleHasBias(c, m));
  for (const m of biased) perLayer += moduleDims(c, m).out;
  return perLayer * c.numHiddenLayers + (extra.modulesToSave?.length ?? 0) * c.vocabSize * c.hiddenSize;
}

/**
 * LoRA's rank cannot exceed min(in, out) of a module it adapts: B·A would have more parameters than
 * the update it can express. Returns the modules where it does, with their smaller dimension.
 */
export function rankTooLarge(c: LlamaConfig, targets: readonly string[], r: number): { module: string; limit: number }[] {
  return targets.map((m) => ({ module: m, limit: Math.min(moduleDims(c, m).in, moduleDims(c, m).out) })).filter((x) => r > x.limit);
}

/** E_LORA_RANK: the error for `rankTooLarge`'s findings (the runtime throws it; `ftc check` reports its message at `r`). */
export function rankError(r: number, tooLarge: { module: string; limit: number }[], file?: string): FtcError {
  const list = tooLarge.map((x) => `${x.module} (${x.limit})`).join(', ');
  return new FtcError('E_LORA_RANK', `r = ${r} exceeds the smaller dimension of ${list}; a rank above min(in, out) adds parameters but no expressiveness`,
    file ? { file } : undefined, `set r = ${Math.min(...tooLarge.map((x) => x.limit))} or less, or target larger modules`);
}
