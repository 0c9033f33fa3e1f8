import * as tf from '../tf.js';
import type { FrozenWeight } from './frozen-weight.js';

/**
 * The embedding lookup: rows of E [V, width] for ids [N] → [N, width].
 *
 * A frozen table is a plain tf.gather. A trained one (full fine-tuning, modules_to_save) needs the gradient
 * with respect to the table, dE[v] = Σ over positions n with ids[n] = v of dy[n]; tfjs' own gather gradient
 * computes it with UnsortedSegmentSum, which the wasm backend does not have. scatterND sums the rows of dy
 * that share an index, on every backend (ids repeat: a token occurs more than once in a batch), in one pass.
 */
export function embedTokens(table: tf.Tensor2D | FrozenWeight, ids: tf.Tensor1D): tf.Tensor2D {
  // A frozen table in its stored format (16-bit on wasm) reads its rows through its own kernel.
  if (!(table instanceof tf.Tensor)) return table.rows(ids.dtype === 'int32' ? ids : tf.cast(ids, 'int32'));
  if (!(table instanceof tf.Variable) || !table.trainable) return tf.gather(table, ids);
  return trainedLookup(table, ids);
}

const trainedLookup: (table: tf.Tensor2D, ids: tf.Tensor1D) => tf.Tensor2D = tf.customGrad(
  (...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
    const [table, ids, save] = args as [tf.Tensor2D, tf.Tensor1D, tf.GradSaveFunc];
    save([ids]);
    return {
      value: tf.gather(table, ids), // [N, width]
      gradFunc: (dy: tf.Tensor, [savedIds]: tf.Tensor[]): tf.Tensor[] => [
        tf.scatterND(tf.reshape(savedIds!, [-1, 1]), dy, table.shape), // [V, width], duplicate ids summed
        tf.zerosLike(savedIds!),
      ],
    };
  },
) as unknown as (table: tf.Tensor2D, ids: tf.Tensor1D) => tf.Tensor2D;
