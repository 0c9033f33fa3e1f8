/**
 * The label of a position the loss skips (prompt tokens, padding, BOS): PyTorch's
 * CrossEntropyLoss ignore_index default, which Hugging Face's models and collators use.
 */
export const IGNORE_INDEX = -100;
