import { FtcError } from '../../errors.js';
import type { HostTensor, WeightMap } from '../model/api.js';
import type { AdapterConfig } from '../model/peft.js';
import { modulePath, parsePeftKey, parseSavedModuleKey, SAVABLE_MODULES } from '../model/peft.js';

/** A loaded PEFT adapter, as `loadAdapter` returns it. */
export interface Adapter {
  config: AdapterConfig;
  tensors: Map<string, HostTensor>;
}

/** PEFT's LoRA scaling: alpha / r, or alpha / √r with rank-stabilised LoRA. */
export function loraScaling(c: Pick<AdapterConfig, 'r' | 'alpha' | 'useRslora'>): number {
  return c.useRslora ? c.alpha / Math.sqrt(c.r) : c.alpha / c.r;
}

/**
 * Folds every adapter into its base weight, as PEFT's `merge_and_unload` does:
 *
 *     W' = W + scaling · B·A        W [out, in], B [out, r], A [r, in]
 *
 * and for DoRA (PEFT's DoraLinearVariant.merge) each row rescaled to its magnitude m [out]:
 *
 *     W' = (m / ‖W + scaling·B·A‖) ⊙ (W + scaling · B·A)     (the norm per output row)
 *
 * Trained biases (bias = all | lora_only) and modules_to_save weights replace the base's. The result is a new map; the base
 * tensors that no adapter touches are shared, not copied. Done on the host in float32 (adapters are
 * small: r·(in + out) per module), accumulating each dot product in float64 before adding it to W.
 */
export function mergeAdapter(weights: WeightMap, adapter: Adapter): { weights: WeightMap; merged: number; biases: number } {
  const scaling = loraScaling(adapter.config);
  const out: WeightMap = new Map(weights);
  const pairs = new Map<string, { A?: HostTensor; B?: HostTensor; magnitude?: HostTensor }>();
  let biases = 0;
  for (const [key, t] of adapter.tensors) {
    const whole = parseSavedModuleKey(key);
    if (whole) {
      const name = SAVABLE_MODULES[whole]!;
      const base = weights.get(name);
      if (!base || base.shape.some((d, i) => d !== t.shape[i])) {
        throw new FtcError('E_ADAPTER_SHAPE', `the adapter's ${whole} is [${t.shape}] but the base model's ${name} is ${base ? `[${base.shape}]` : 'missing'}`, undefined, 'the adapter belongs to another model');
      }
      out.set(name, { shape: [...t.shape], data: Float32Array.from(t.data) });
      continue;
    }
    const p = parsePeftKey(key);
    if (!p) throw new Error(`not a PEFT LoRA key: ${key}`); // loadAdapter has already refused these
    const path = modulePath(p.layer, p.module);
    if (p.part === 'bias') {
      const base = weights.get(`${path}.bias`);
      if (!base || base.data.length !== t.data.length) {
        throw new FtcError('E_ADAPTER_KEYS', `the adapter trains ${path}.bias but the base model has ${base ? `a bias of shape [${base.shape}]` : 'no such bias'}`,
          undefined, 'PEFT only trains biases the base model already has; the adapter belongs to another model');
      }
      out.set(`${path}.bias`, { shape: [...base.shape], data: Float32Array.from(t.data) });
      biases++;
      continue;
    }
    const entry = pairs.get(path) ?? {};
    entry[p.part === 'lora_A' ? 'A' : p.part === 'lora_B' ? 'B' : 'magnitude'] = t;
    pairs.set(path, entry);
  }
  for (const [path, { A, B, magnitude }] of pairs) {
    if (!A || !B) throw new Error(`${path}: lora_A and lora_B must come in pairs`); // checked by loadAdapter
    const name = `${path}.weight`;
    const W = weights.get(name);
    if (!W) throw new FtcError('E_ADAPTER_KEYS', `the adapter adapts ${path} but the base model has no ${name}`, undefined, 'the adapter belongs to another model');
    const merged = addLowRank(W, B, A, scaling, name);
    out.set(name, magnitude ? scaleRowsTo(merged, magnitude, name) : merged);
  }
  return { weights: out, merged: pairs.size, biases };
}

/** W + s · B·A as a new tensor; shapes are checked against W (an adapter for another model is a user mistake). */
export function addLowRank(W: HostTensor, B: HostTensor, A: HostTensor, s: number, name = 'weight'): HostTensor {
  const [outF, inF] = W.shape as [number, number];
  const [bOut, r] = B.shape as [number, number];
  const [aR, aIn] = A.shape as [number, number];
  if (W.shape.length !== 2 || bOut !== outF || aIn !== inF || aR !== r) {
    throw new FtcError('E_ADAPTER_SHAPE', `${name} is [${W.shape}] but the adapter's B is [${B.shape}] and A is [${A.shape}]`, undefined,
      'the adapter was trained on a model with other dimensions');
  }
  const data = Float32Array.from(W.data);
  const b = B.data;
  const a = A.data;
  for (let o = 0; o < outF; o++) {
    const row = o * inF;
    for (let i = 0; i < inF; i++) {
      let acc = 0;
      for (let k = 0; k < r; k++) acc += b[o * r + k]! * a[k * inF + i]!;
      data[row + i] = data[row + i]! + s * acc;
    }
  }
  return { shape: [outF, inF], data };
}

/** Rows of M [out, in] scaled in place by m / ‖row‖ (DoRA's merge); the norm is accumulated in float64. */
function scaleRowsTo(M: HostTensor, m: HostTensor, name: string): HostTensor {
  const [outF, inF] = M.shape as [number, number];
  if (m.shape.length !== 1 || m.shape[0] !== outF) {
    throw new FtcError('E_ADAPTER_SHAPE', `${name} has ${outF} rows but the adapter's lora_magnitude_vector is [${m.shape}]`, undefined,
      'the adapter was trained on a model with other dimensions');
  }
  const d = M.data;
  for (let o = 0; o < outF; o++) {
    let sq = 0;
    for (let i = o * inF; i < (o + 1) * inF; i++) sq += d[i]! * d[i]!;
    const f = m.data[o]! / Math.sqrt(sq);
    for (let i = o * inF; i < (o + 1) * inF; i++) d[i] = d[i]! * f;
  }
  return M;
}
