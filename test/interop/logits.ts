/** ftc's side of the logit comparisons against PyTorch: the forward pass `ftc score` runs, and the comparison. */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { initBackend } from '../../src/runtime/backend.js';
import { loadCausalLM } from '../../src/runtime/model/causal-lm.js';
import * as tf from '../../src/runtime/tf.js';
import { loadTokenizerFile } from '../../src/runtime/tokenize/load.js';

/** Logits [T·V] flat for each id sequence, from the model directory (and adapter) loaded as `ftc score` loads them. */
export async function ftcLogits(modelDir: string, ids: number[][], adapterDir?: string): Promise<Float32Array[]> {
  await initBackend('cpu');
  const model = loadCausalLM(modelDir, { adapterDir });
  try {
    return ids.map((seq) => {
      const input = tf.tensor2d([seq], [1, seq.length], 'int32');
      const logits = model.forward(input);
      const data = logits.dataSync() as Float32Array; // host sync: the comparison is on the host
      tf.dispose([input, logits]);
      return data;
    });
  } finally {
    model.dispose();
  }
}

/** Token ids of each text with the model directory's tokenizer.json, as `ftc score --text` encodes it. */
export async function encodeTexts(modelDir: string, texts: string[]): Promise<number[][]> {
  const file = join(modelDir, 'tokenizer.json');
  const { tokenizer } = loadTokenizerFile(file, file);
  return Promise.all(texts.map(async (t) => (await tokenizer.encode(t)).getIds()));
}

/**
 * Asserts |ftc − torch| ≤ tol element-wise for every sequence, and that some logit exceeds `minScale` (a model
 * whose logits are all near 0 would pass any absolute tolerance). Returns the largest difference.
 */
export function assertLogitsClose(ftc: ArrayLike<number>[], torch: ArrayLike<number>[], tol: number, what: string, minScale = 0.5): number {
  assert.equal(ftc.length, torch.length, `${what}: sequence count`);
  let worst = 0;
  let scale = 0;
  ftc.forEach((a, s) => {
    const b = torch[s]!;
    assert.equal(a.length, b.length, `${what}: logits of sequence ${s} differ in size`);
    for (let i = 0; i < a.length; i++) {
      worst = Math.max(worst, Math.abs(a[i]! - b[i]!));
      scale = Math.max(scale, Math.abs(b[i]!));
    }
  });
  assert.ok(scale > minScale, `${what}: logits too close to zero (max |logit| ${scale}) to tell models apart`);
  assert.ok(worst <= tol, `${what}: max |ftc − torch| = ${worst} > ${tol} (max |logit| ${scale})`);
  return worst;
}
