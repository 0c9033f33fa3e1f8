import { FtcError } from '../errors.js';
import type { LlamaConfig } from './config.js';

/**
 * The linear layers of a Llama-family block by the names Hugging Face (and so PEFT's target_modules)
 * gives them, in forward order. What PEFT's `all-linear` selects (lm_head excluded).
 */
export const ATTENTION_MODULES = ['q_proj', 'k_proj', 'v_proj', 'o_proj'] as const;
export const MLP_MODULES = ['gate_proj', 'up_proj', 'down_proj'] as const;
export const LINEAR_MODULES = [...ATTENTION_MODULES, ...MLP_MODULES] as const;
export type LinearModule = (typeof LINEAR_MODULES)[number];

export const isLinearModule = (name: string): name is LinearModule => (LINEAR_MODULES as readonly string[]).includes(name);

/** The sub-module a linear layer sits in: `self_attn` or `mlp`; undefined for a name that is not one. */
export function moduleParent(module: string): 'self_attn' | 'mlp' | undefined {
  if ((ATTENTION_MODULES as readonly string[]).includes(module)) return 'self_attn';
  if ((MLP_MODULES as readonly string[]).includes(module)) return 'mlp';
  return undefined;
}

/** The config numbers that fix every linear module's shape (the memory estimate passes just these). */
export type LinearShapeDims = Pick<LlamaConfig, 'hiddenSize' | 'intermediateSize' | 'numAttentionHeads' | 'numKeyValueHeads' | 'headDim'>;

/** [in, out] features of a linear module for a model config. */
export function moduleDims(c: LinearShapeDims, module: string): { in: number; out: number } {
  const q = c.numAttentionHeads * c.headDim;
  const kv = c.numKeyValueHeads * c.headDim;
  switch (module) {
    case 'q_proj': return { in: c.hiddenSize, out: q };
    case 'k_proj': case 'v_proj': return { in: c.hiddenSize, out: kv };
    case 'o_proj': return { in: q, out: c.hiddenSize };
    case 'gate_proj': case 'up_proj': return { in: c.hiddenSize, out: c.intermediateSize };
    case 'down_proj': return { in: c.intermediateSize, out: c.hiddenSize };
    default: throw new Error(`not a Llama linear module: ${module}`);
  }
}

/**
 * Whether a linear module has a bias in this architecture. Llama's attention_bias covers q/k/v/o_proj;
 * Qwen2's q/k/v biases never include o_proj; MLP biases are not supported (the parser refuses mlp_bias).
 */
export function moduleHasBias(c: LlamaConfig, module: string): boolean {
  if (!c.attentionBias || moduleParent(module) !== 'self_attn') return false;
  return module !== 'o_proj' || c.architecture === 'LlamaForCausalLM';
}

/**
 * Every tensor a Llama-family checkpoint must hold for `config`, with its shape, by Hugging Face name.
 * Linear weights are [out, in] as PyTorch stores them. `lm_head.weight` is listed even when tied
 * (see `isOptionalWeight`).
 */
export function expectedWeightShapes(c: LlamaConfig): Map<string, number[]> {
  const H = c.hiddenSize;
  const m = new Map<string, number[]>();
  m.set('model.embed_tokens.weight', [c.vocabSize, H]);
  for (let i = 0; i < c.numHiddenLayers; i++) {
    const p = `model.layers.${i}`;
    m.set(`${p}.input_layernorm.weight`, [H]);
    // Weights before biases: init-model draws tensors in this order, so it is part of its seeded output.
    for (const mod of ATTENTION_MODULES) m.set(`${p}.self_attn.${mod}.weight`, weightShape(c, mod));
    for (const mod of ATTENTION_MODULES) if (moduleHasBias(c, mod)) m.set(`${p}.self_attn.${mod}.bias`, [moduleDims(c, mod).out]);
    m.set(`${p}.post_attention_layernorm.weight`, [H]);
    for (const mod of MLP_MODULES) m.set(`${p}.mlp.${mod}.weight`, weightShape(c, mod));
  }
  m.set('model.norm.weight', [H]);
  m.set('lm_head.weight', [c.vocabSize, H]);
  return m;
}

/** A linear module's weight as PyTorch stores it: [out, in]. */
function weightShape(c: LlamaConfig, module: LinearModule): number[] {
  const d = moduleDims(c, module);
  return [d.out, d.in];
}

/** A weight a checkpoint may leave out: lm_head when tied to embed_tokens. */
export const isOptionalWeight = (name: string, c: LlamaConfig): boolean => name === 'lm_head.weight' && c.tieWordEmbeddings;

/**
 * A lora stage's (or adapter_config.json's) target_modules as the modules to adapt: `all-linear` is every
 * linear module; a name the model lacks is E0307, the code `ftc check` reports for it.
 */
export function resolveTargetModules(targets: readonly string[] | 'all-linear', architecture: string): LinearModule[] {
  if (targets === 'all-linear' || targets.includes('all-linear')) return [...LINEAR_MODULES];
  const unknown = targets.filter((t) => !isLinearModule(t));
  if (unknown.length > 0 || targets.length === 0) {
    throw new FtcError('E0307',
      targets.length === 0 ? 'target_modules is empty' : `target_modules ${unknown.map((n) => JSON.stringify(n)).join(', ')} ${unknown.length === 1 ? 'is not a linear module' : 'are not linear modules'} of ${architecture}`,
      undefined, `the model's linear modules are ${LINEAR_MODULES.join(', ')} (or all-linear)`);
  }
  return [...new Set(targets as LinearModule[])];
}
