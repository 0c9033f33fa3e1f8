import * as tf from '../tf.js';

/**
 * Activation checkpointing (Chen et al. 2016; Hugging Face's `gradient_checkpointing`): `block(x)` runs
 * without keeping its intermediates for the backward pass, which keeps only x (and `context`, tensors the
 * block reads that the caller frees after the forward pass: rotary tables, the causal mask). The backward
 * pass runs the block again under a tape of its own and differentiates it with respect to x and `params`
 * (the trainable Variables the block reads), so only one block's activations exist at a time.
 *
 * The block must be a pure function of (x, context, params): the same inputs recompute the same values
 * (dropout masks here are drawn from per-example seeds, so they are).
 */
export function checkpoint<C extends tf.Tensor[]>(
  block: (x: tf.Tensor2D, context: C) => tf.Tensor2D,
  x: tf.Tensor2D,
  context: C,
  params: tf.Variable[],
): tf.Tensor2D {
  return recomputed(([input], c) => block(input as tf.Tensor2D, c as C), [x], context, params) as tf.Tensor2D;
}

/**
 * `block(xs, context)` differentiable in `xs` and `params`, keeping only xs and context for the backward
 * pass, which recomputes the block. The general form of `checkpoint`; attention.ts uses it per query chunk.
 */
export function recomputed(
  block: (xs: tf.Tensor[], context: tf.Tensor[]) => tf.Tensor,
  xs: tf.Tensor[],
  context: tf.Tensor[],
  params: tf.Variable[] = [],
): tf.Tensor {
  const n = xs.length;
  const f = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
    const save = args[args.length - 1] as tf.GradSaveFunc;
    const inputs = args.slice(0, n) as tf.Tensor[];
    // The forward pass of a custom gradient runs off the tape (tfjs records none of its ops): nothing kept.
    save([...inputs, ...context]);
    return {
      value: block(inputs, context),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]): tf.Tensor[] => {
        const sx = saved.slice(0, n);
        const sc = saved.slice(n);
        return innerGradients(() => block(sx, sc), [...sx, ...params], dy);
      },
    };
  });
  return f(...xs, ...params);
}

interface EngineState {
  state: { activeTape: unknown };
  gradients(f: () => tf.Tensor, xs: tf.Tensor[], dy?: tf.Tensor): { value: tf.Tensor; grads: tf.Tensor[] };
}

/**
 * Gradients of f at `xs` with upstream `dy`, taken inside another backward pass. tfjs-core's engine keeps one
 * tape: a gradient computation started while the outer one is being replayed (its recording is over, so the
 * engine sees depth 0) replaces the outer tape and, when done, clears it — and the outer pass then fails to
 * release its own saved tensors. The outer tape is put back, so each keeps its own.
 */
function innerGradients(f: () => tf.Tensor, xs: tf.Tensor[], dy: tf.Tensor): tf.Tensor[] {
  const engine = tf.engine() as unknown as EngineState;
  const outer = engine.state.activeTape;
  try {
    const { value, grads } = engine.gradients(f, xs, dy);
    value.dispose();
    return grads.map((g, i) => g ?? tf.zerosLike(xs[i]!));
  } finally {
    engine.state.activeTape = outer;
  }
}
