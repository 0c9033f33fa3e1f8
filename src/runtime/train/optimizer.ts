import * as tf from '../tf.js';

/**
 * AdamW with decoupled weight decay, update for update as torch.optim.AdamW (amsgrad off):
 *
 *   p ← p − lr·wd·p
 *   m ← β1·m + (1−β1)·g          v ← β2·v + (1−β2)·g²
 *   p ← p − (lr / (1−β1^t)) · m / (√v / √(1−β2^t) + ε)
 *
 * Weight decay applies only to the parameters Hugging Face's Trainer decays (`hfDecays`), so the embedded
 * trainer and the compiled accelerate job train the same thing when biases or norms are trained.
 *
 * The moments live on the device as tf.Variables, created at the first step; `state()` and
 * `loadState()` move them to and from the host for checkpoints.
 */

// transformers 5.24 Trainer.get_decay_parameter_names: no decay for a parameter whose lower-cased full name
// matches one of these (biases, LayerNorm/RMSNorm weights). Its other rule, parameters of nn.LayerNorm
// modules, never applies to a Llama (RMSNorm) and is covered by the names anyway.
const NO_DECAY_PATTERNS = [/bias/, /layernorm/, /rmsnorm/, /(?:^|\.)norm(?:$|\.)/, /_norm(?:$|\.)/];

/** Whether HF Trainer applies weight decay to the parameter with this (PEFT or HF) name. */
export function hfDecays(name: string): boolean {
  const lower = name.toLowerCase();
  return !NO_DECAY_PATTERNS.some((re) => re.test(lower));
}

export interface AdamWConfig {
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
}

/** Host copy of the optimizer's state, by parameter name. */
export interface AdamWState {
  step: number;
  m: Record<string, { shape: number[]; data: Float32Array }>;
  v: Record<string, { shape: number[]; data: Float32Array }>;
}

export class AdamW {
  private t = 0;
  private readonly m = new Map<string, tf.Variable>();
  private readonly v = new Map<string, tf.Variable>();

  constructor(
    private readonly params: Map<string, tf.Variable>,
    private readonly cfg: AdamWConfig,
  ) {}

  /** Optimizer steps taken so far (torch's state['step']). */
  get stepCount(): number {
    return this.t;
  }

  /** One update of every parameter that has a gradient. Disposes nothing it was given. */
  step(grads: Record<string, tf.Tensor>, lr: number): void {
    this.t += 1;
    const { beta1, beta2, eps, weightDecay } = this.cfg;
    const bc1 = 1 - beta1 ** this.t;
    const bc2Sqrt = Math.sqrt(1 - beta2 ** this.t);
    const stepSize = lr / bc1;
    for (const [name, p] of this.params) {
      const g = grads[name];
      if (!g) continue;
      const m = this.moment(this.m, name, p);
      const v = this.moment(this.v, name, p);
      tf.tidy(() => {
        const decayed = weightDecay !== 0 && hfDecays(name) ? tf.mul(p, 1 - lr * weightDecay) : p;
        const m1 = tf.add(tf.mul(m, beta1), tf.mul(g, 1 - beta1));
        const v1 = tf.add(tf.mul(v, beta2), tf.mul(tf.square(g), 1 - beta2));
        const denom = tf.add(tf.div(tf.sqrt(v1), bc2Sqrt), eps);
        m.assign(m1);
        v.assign(v1);
        p.assign(tf.sub(decayed, tf.mul(tf.div(m1, denom), stepSize)));
      });
    }
  }

  state(): AdamWState {
    // Host sync, deliberate: only when a checkpoint is written.
    const dump = (moments: Map<string, tf.Variable>) =>
      Object.fromEntries([...moments].map(([k, t]) => [k, { shape: [...t.shape], data: t.dataSync() as Float32Array }]));
    return { step: this.t, m: dump(this.m), v: dump(this.v) };
  }

  loadState(state: AdamWState): void {
    this.t = state.step;
    const load = (moments: Map<string, tf.Variable>, saved: AdamWState['m']) => {
      for (const [name, p] of this.params) {
        const s = saved[name];
        if (!s) continue;
        if (s.shape.join(',') !== p.shape.join(',')) {
          throw new Error(`optimizer state for ${name} has shape [${s.shape}], parameter has [${p.shape}]`);
        }
        const t = tf.tensor(s.data, s.shape, 'float32');
        this.moment(moments, name, p).assign(t);
        t.dispose();
      }
    };
    load(this.m, state.m);
    load(this.v, state.v);
  }

  dispose(): void {
    for (const t of [...this.m.values(), ...this.v.values()]) t.dispose();
    this.m.clear();
    this.v.clear();
  }

  private moment(moments: Map<string, tf.Variable>, name: string, p: tf.Variable): tf.Variable {
    let s = moments.get(name);
    if (!s) {
      const zeros = tf.zerosLike(p);
      s = tf.variable(zeros, false); // unnamed: two optimizers (two runs in one process) must not collide
      zeros.dispose();
      moments.set(name, s);
    }
    return s;
  }
}
