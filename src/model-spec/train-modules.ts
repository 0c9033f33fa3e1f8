import type { LlamaConfig } from './config.js';
import { expectedWeightShapes, LINEAR_MODULES } from './modules.js';
import { elementCount } from './shape.js';

/**
 * Full fine-tuning (a trainer whose model is a model stage) trains whole weights, chosen by module name as
 * Hugging Face names the modules: the linear layers of every block (q_proj ... down_proj, each with its bias
 * when it has one), the two norms of every block, the final norm, the embedding table and the LM head.
 * A trainer's `train_modules` picks a subset; without it every weight trains.
 */
export const NORM_MODULES = ['input_layernorm', 'post_attention_layernorm', 'norm'] as const;
export const TRAIN_MODULES = [...LINEAR_MODULES, ...NORM_MODULES, 'embed_tokens', 'lm_head'] as const;
export type TrainModule = (typeof TRAIN_MODULES)[number];

export const isTrainModule = (name: string): name is TrainModule => (TRAIN_MODULES as readonly string[]).includes(name);

/** The module a Hugging Face weight name belongs to (`model.layers.0.self_attn.q_proj.bias` → q_proj). */
export function moduleOfWeight(name: string): TrainModule | undefined {
  if (name === 'model.embed_tokens.weight') return 'embed_tokens';
  if (name === 'lm_head.weight') return 'lm_head';
  if (name === 'model.norm.weight') return 'norm';
  const m = /^model\.layers\.\d+\.(?:self_attn\.|mlp\.)?([a-z_]+)\.(?:weight|bias)$/.exec(name);
  return m && isTrainModule(m[1]!) ? m[1] : undefined;
}

/**
 * The Hugging Face names of the weights `modules` trains (all of them when undefined), in checkpoint order.
 * With tied embeddings one tensor is both embed_tokens and lm_head: naming either trains it, under
 * `model.embed_tokens.weight` (the name a tied checkpoint stores).
 */
export function trainedWeightNames(c: LlamaConfig, modules?: readonly string[]): string[] {
  const chosen = new Set<string>(modules ?? TRAIN_MODULES);
  if (c.tieWordEmbeddings && (chosen.has('lm_head') || chosen.has('embed_tokens'))) chosen.add('embed_tokens').delete('lm_head');
  return [...expectedWeightShapes(c).keys()].filter((name) => {
    if (c.tieWordEmbeddings && name === 'lm_head.weight') return false;
    const module = moduleOfWeight(name);
    return module !== undefined && chosen.has(module);
  });
}

/** Parameters full fine-tuning trains: the values of every weight `trainedWeightNames` lists. */
export function fullTrainableCount(c: LlamaConfig, modules?: readonly string[]): number {
  const shapes = expectedWeightShapes(c);
  return trainedWeightNames(c, modules).reduce((n, name) => n + elementCount(shapes.get(name)!), 0);
}
