import type { StageSchema } from './types.js';

export const preprocessSchema: StageSchema = {
  kind: 'preprocess',
  description: 'Turns records into prompt/response pairs: templates or chat rendering, filters, shuffle, eval split.',
  'x-version': 2,
  type: 'object',
  properties: {
    input: { type: 'string', 'x-ref': ['data', 'preprocess'], description: 'The data or preprocess stage to read records from.' },
    template: {
      type: 'string',
      enum: ['custom', 'alpaca', 'chat'],
      default: 'custom',
      description:
        'custom: the `prompt` and `response` templates; alpaca: the Stanford Alpaca prompt over instruction/input/output; chat: `messages` rendered with the chat template.',
    },
    prompt: { type: 'string', description: 'Prompt template with {field} placeholders, e.g. "{instruction}\\n{input}". `{{` and `}}` are literal braces.' },
    response: { type: 'string', description: 'Response template with {field} placeholders, e.g. "{output}".' },
    messages_field: { type: 'string', default: 'messages', description: 'For template = chat: the field holding [{role, content}] messages.' },
    chat_template: {
      type: 'string',
      'x-path': 'file',
      description: 'For template = chat: tokenizer_config.json whose `chat_template` (Jinja) renders the messages.',
    },
    train_on: {
      type: 'string',
      enum: ['all_turns', 'last_turn'],
      default: 'all_turns',
      description: 'For template = chat: train on every assistant turn of a conversation (as axolotl and TRL do) or only the last one.',
    },
    min_length: { type: 'integer', minimum: 0, description: 'Drop examples whose prompt + response is shorter than this many characters.' },
    max_length: { type: 'integer', minimum: 1, description: 'Drop examples whose prompt + response is longer than this many characters.' },
    dedupe: { type: 'boolean', default: false, description: 'Drop exact duplicate examples (same prompt and response).' },
    shuffle: { type: 'boolean', default: true, description: 'Shuffle the examples with the seed before splitting.' },
    eval_split: {
      type: 'number',
      minimum: 0,
      exclusiveMaximum: 1,
      default: 0,
      description: 'Fraction of examples held out for evaluation (0 for none).',
    },
    seed: { type: 'integer', minimum: 0, 'x-inherit': 'seed', description: 'Seed for shuffle and split; defaults to the pipeline seed.' },
  },
  required: ['input'],
  additionalProperties: false,
};
