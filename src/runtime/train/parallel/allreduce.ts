import * as tf from '../../tf.js';

/**
 * The all-reduce of data-parallel training, star-shaped: workers send their adapter gradients to the main
 * thread as host arrays (transferred, not copied), the main thread sums them with its own. Each share's
 * gradient already carries its weight countedTokens(share) / countedTokens(step) (step.ts), so the
 * reduction is a plain sum, and the result is the single-process step's gradient up to float rounding.
 * Gradients are adapter-sized (the reference model: 32k floats), so a star costs less than a ring's extra
 * hops; the optimizer then runs once, on the main thread.
 */

/** Adapter tensors by PEFT name, on the host: what crosses between threads. */
export type HostGrads = Record<string, Float32Array>;

/** Sums the workers' host gradients in worker order into one host map (fixed order: deterministic). */
export function sumHost(parts: HostGrads[]): HostGrads {
  const out: HostGrads = {};
  for (const part of parts) {
    for (const [name, g] of Object.entries(part)) {
      const acc = out[name];
      if (!acc) {
        out[name] = new Float32Array(g);
        continue;
      }
      if (acc.length !== g.length) throw new Error(`gradient ${name}: ${g.length} values from one worker, ${acc.length} from another`);
      for (let i = 0; i < g.length; i++) acc[i]! += g[i]!;
    }
  }
  return out;
}

/**
 * local + Σ remote, on the device, by PEFT name. `shapes` gives each parameter's shape (host arrays are
 * flat). Disposes `local`'s tensors; a name only the workers computed (the main thread had no share) is
 * uploaded alone.
 */
export function reduceInto(local: Record<string, tf.Tensor>, remote: HostGrads[], shapes: Map<string, number[]>): Record<string, tf.Tensor> {
  if (remote.length === 0) return local;
  const summed = sumHost(remote);
  const out: Record<string, tf.Tensor> = { ...local };
  for (const [name, data] of Object.entries(summed)) {
    const shape = shapes.get(name);
    if (!shape) throw new Error(`a worker sent a gradient for ${name}, which is not an adapter parameter here`);
    const uploaded = tf.tensor(data, shape, 'float32');
    const mine = local[name];
    if (mine) {
      out[name] = tf.add(mine, uploaded);
      tf.dispose([mine, uploaded]);
    } else {
      out[name] = uploaded;
    }
  }
  return out;
}

/** Device tensors → host arrays (one sync per tensor), listed for postMessage's transfer list. */
export function toHost(tensors: Record<string, tf.Tensor>): { grads: HostGrads; transfer: ArrayBuffer[] } {
  const grads: HostGrads = {};
  for (const [name, t] of Object.entries(tensors)) grads[name] = new Float32Array(t.dataSync()); // host sync: leaving the thread
  return { grads, transfer: Object.values(grads).map((g) => g.buffer as ArrayBuffer) };
}
