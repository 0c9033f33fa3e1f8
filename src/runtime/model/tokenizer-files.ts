import { BOS, EOS, UNK } from '../tokenize/bpe.js';

/**
 * tokenizer_config.json and special_tokens_map.json for an init-model directory, as transformers'
 * PreTrainedTokenizerFast saves them, so `AutoTokenizer.from_pretrained(dir)` works on our models.
 * Padding uses `<unk>` rather than `</s>`, so masking padding never masks the EOS the model must learn.
 */

/** Llama 2's chat format: `<s>[INST] <<SYS>>\n{system}\n<</SYS>>\n\n{user} [/INST] {assistant} </s>`. */
export const LLAMA2_CHAT_TEMPLATE =
  "{% if messages[0]['role'] == 'system' %}" +
  "{% set system_message = '<<SYS>>\\n' + messages[0]['content'] | trim + '\\n<</SYS>>\\n\\n' %}{% set loop_messages = messages[1:] %}" +
  "{% else %}{% set system_message = '' %}{% set loop_messages = messages %}{% endif %}" +
  '{% for message in loop_messages %}' +
  "{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}" +
  "{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}{% endif %}" +
  "{% if loop.index0 == 0 %}{% set content = system_message + message['content'] | trim %}{% else %}{% set content = message['content'] | trim %}{% endif %}" +
  "{% if message['role'] == 'user' %}{{ bos_token + '[INST] ' + content + ' [/INST]' }}" +
  "{% elif message['role'] == 'assistant' %}{{ ' ' + content + ' ' + eos_token }}{% endif %}" +
  '{% endfor %}';

const special = (content: string) => ({
  content, lstrip: false, normalized: false, rstrip: false, single_word: false, special: true,
});

export function tokenizerConfigJson(modelMaxLength: number): string {
  return JSON.stringify({
    add_bos_token: true,
    add_eos_token: false,
    added_tokens_decoder: { 0: special(UNK), 1: special(BOS), 2: special(EOS) },
    bos_token: BOS,
    chat_template: LLAMA2_CHAT_TEMPLATE,
    clean_up_tokenization_spaces: false,
    eos_token: EOS,
    model_max_length: modelMaxLength,
    pad_token: UNK,
    padding_side: 'right',
    tokenizer_class: 'PreTrainedTokenizerFast',
    unk_token: UNK,
  }, null, 2) + '\n';
}

export function specialTokensMapJson(): string {
  return JSON.stringify({ bos_token: BOS, eos_token: EOS, pad_token: UNK, unk_token: UNK }, null, 2) + '\n';
}
