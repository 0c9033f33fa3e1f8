import type { StageSchema } from './types.js';

export const tokenizerSchema: StageSchema = {
  kind: 'tokenizer',
  description: 'Tokenizes prompt + response joined into input ids and labels (prompt tokens masked with -100; a token straddling the prompt/response boundary counts as prompt).',
  'x-version': 3,
  type: 'object',
  properties: {
    input: { type: 'string', 'x-ref': ['preprocess'], description: 'The preprocess stage whose examples to tokenize.' },
    vocab: {
      type: 'string',
      'x-path': 'file',
      description: "Hugging Face tokenizer.json to load (usually the model's). Give either vocab or train.",
    },
    train: {
      type: 'object',
      properties: {
        vocab_size: { type: 'integer', minimum: 259, default: 4096, description: 'Vocabulary size of the trained BPE tokenizer (at least 259: 3 special tokens and the 256 byte symbols).' },
        min_frequency: { type: 'integer', minimum: 1, default: 2, description: 'Minimum pair frequency for a merge.' },
      },
      additionalProperties: false,
      description: 'Train a byte-level BPE tokenizer on the input examples instead of loading one.',
    },
    max_length: { type: 'integer', minimum: 2, default: 512, description: 'Maximum tokens per example (checked against the model context).' },
    truncation: { type: 'boolean', default: true, description: 'Truncate examples longer than max_length; when false they are dropped and counted.' },
    add_bos: {
      type: 'boolean',
      description:
        "Start every example with the BOS token (true) or without any (false). Unset: as transformers' tokenizer(text) does (the tokenizer.json post-processor, or tokenizer_config.json's add_bos_token); chat examples none, as apply_chat_template.",
    },
    add_eos: {
      type: 'boolean',
      description:
        'End every example with the EOS token so the model learns to stop (unless it already ends with it), or add none (false). Unset: true for prompt/response examples, as Stanford Alpaca and axolotl append it; false for chat examples, whose template ends each turn itself.',
    },
    train_on_inputs: { type: 'boolean', default: false, description: 'Compute the loss on prompt tokens too (labels are -100 on the prompt by default).' },
    packing: { type: 'boolean', default: false, description: 'Pack several short examples into each max_length sequence.' },
    workers: {
      oneOf: [{ type: 'integer', minimum: 1 }, { const: 'auto' }],
      default: 'auto',
      'x-cache': false,
      description:
        'Threads that tokenize (the stage\'s own and worker threads, each taking whole batches of rows): auto uses every core, one thread per 12 MiB of input, for tokenizers with the word cache (byte-level BPE; others are encoded by the library on every core already); 1 keeps it on the stage\'s own thread. The tokens are the same whatever the count.',
    },
  },
  required: ['input'],
  additionalProperties: false,
};
