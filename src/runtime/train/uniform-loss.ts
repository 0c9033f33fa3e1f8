/**
 * A model that predicts every token with probability 1/V has cross-entropy ln(V): a loss that sits
 * there learned nothing (most often a learning rate far too high, which flattens the output layer's
 * distribution). The run still finishes, but the user must hear it.
 */
const LAST = 3;
const TOLERANCE = 0.01;

/** The warning when the last logged losses all sit within 1% of ln(vocab), else undefined. */
export function uniformLossWarning(losses: readonly number[], vocabSize: number, lr: number): string | undefined {
  const uniform = Math.log(vocabSize);
  if (losses.length < LAST || !(uniform > 0)) return undefined;
  const tail = losses.slice(-LAST);
  if (!tail.every((l) => Math.abs(l - uniform) <= TOLERANCE * uniform)) return undefined;
  return `the training loss stayed at ${tail[tail.length - 1]!.toFixed(4)}, which is ln(${vocabSize}) = ${uniform.toFixed(4)}: ` +
    `the loss of a uniform guess over the vocabulary, so the model learned nothing; a learning rate far too high (lr = ${lr}) is the usual cause`;
}
