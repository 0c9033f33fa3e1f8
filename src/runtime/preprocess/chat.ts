import { Template } from '@huggingface/jinja';
import { FtcError, isFtcError } from '../../errors.js';
import { findChatTemplate, unparsableChatTemplate } from '../../model-spec/chat-template.js';
import { renderBounded } from './jinja-bounded.js';
import type { DataRecord } from '../data/types.js';
import type { RecordRef, Renderer } from './template.js';

interface Message {
  role: string;
  content: string;
}

/** A special token in tokenizer_config.json is a string or an AddedToken object `{content: ...}`. */
function tokenText(v: unknown): string | undefined {
  if (typeof v === 'string') return v;
  if (v && typeof v === 'object' && typeof (v as { content?: unknown }).content === 'string') return (v as { content: string }).content;
  return undefined;
}

/**
 * Reads the Jinja chat template of a tokenizer_config.json (found by `findChatTemplate`, which
 * `ftc check` uses too) and the special tokens templates refer to.
 */
export function loadChatTemplate(file: string, display: string): { template: Template; specials: Record<string, string> } {
  const { source, config, shown } = findChatTemplate(file, display);
  const specials: Record<string, string> = {};
  for (const key of ['bos_token', 'eos_token', 'unk_token', 'pad_token']) {
    const text = tokenText(config[key]);
    if (text !== undefined) specials[key] = text;
  }
  try {
    return { template: new Template(source), specials };
  } catch (e) {
    throw unparsableChatTemplate(shown, e);
  }
}

function messagesOf(record: DataRecord, field: string, ref: RecordRef): Message[] {
  const where = `record ${ref.index} of \`${ref.source}\``;
  const value = record[field];
  if (!Array.isArray(value)) {
    throw new FtcError('E_CHAT_MESSAGES', `${where}: field "${field}" should be a list of {role, content} messages`, { row: ref.index }, 'set messages_field to the field that holds the conversation');
  }
  return value.map((m, i) => {
    if (!m || typeof m !== 'object' || Array.isArray(m) || typeof m.role !== 'string' || typeof m.content !== 'string') {
      throw new FtcError('E_CHAT_MESSAGES', `${where}: message ${i + 1} should be {role: string, content: string}`, { row: ref.index });
    }
    return { role: m.role, content: m.content };
  });
}

/** Which assistant turns of a conversation are trained on (preprocess `train_on`). */
export type TrainOn = 'all_turns' | 'last_turn';

/**
 * Chat data: the conversation through its last assistant turn is rendered whole (later messages
 * have nothing to learn from). Each trained assistant turn is found by rendering prefixes: the
 * conversation before it with add_generation_prompt = true ends where the turn starts, and the
 * conversation through it ends where the turn ends, so the span holds the assistant's text plus
 * the template's end-of-turn markup, which the model must learn to emit. Every assistant turn is
 * trained on by default, as axolotl, LLaMA-Factory and TRL do; `last_turn` trains only the last.
 * The prompt is the text before the first trained turn, the response the rest.
 *
 * A template whose prefix renders differently from the same part of the whole conversation (one
 * that looks ahead at later messages) leaves no span to find: that is an error naming the turn.
 */
export function chatRenderer(file: string, display: string, field: string, trainOn: TrainOn = 'all_turns'): Renderer {
  const { template, specials } = loadChatTemplate(file, display);
  const render = (messages: Message[], addGenerationPrompt: boolean, ref: RecordRef): string => {
    try {
      return renderBounded(template, { ...specials, messages, add_generation_prompt: addGenerationPrompt }, display, `record ${ref.index} of \`${ref.source}\``);
    } catch (e) {
      if (isFtcError(e)) throw e;
      throw new FtcError('E_CHAT_TEMPLATE', `record ${ref.index} of \`${ref.source}\`: the chat template failed: ${(e as Error).message}`, { row: ref.index });
    }
  };
  return (record, ref) => {
    const messages = messagesOf(record, field, ref);
    const assistant = messages.flatMap((m, i) => (m.role === 'assistant' ? [i] : []));
    if (!assistant.length) {
      throw new FtcError('E_CHAT_MESSAGES', `record ${ref.index} of \`${ref.source}\`: the conversation has no assistant message to learn`, { row: ref.index });
    }
    const last = assistant[assistant.length - 1];
    const full = render(messages.slice(0, last + 1), false, ref);
    const turns: Array<[number, number]> = [];
    for (const a of trainOn === 'last_turn' ? [last] : assistant) {
      const before = render(messages.slice(0, a), true, ref);
      const through = a === last ? full : render(messages.slice(0, a + 1), false, ref);
      if (!full.startsWith(before) || !full.startsWith(through) || through.length < before.length) {
        const nth = assistant.indexOf(a) + 1;
        throw new FtcError(
          'E_CHAT_TEMPLATE',
          `record ${ref.index} of \`${ref.source}\`: the chat template renders the conversation up to assistant turn ${nth} (message ${a + 1}) differently from the same part of the whole conversation, so that turn's span cannot be found`,
          { row: ref.index },
          trainOn === 'all_turns' && a !== last ? 'set train_on = last_turn to train only the last assistant turn' : undefined,
        );
      }
      turns.push([before.length, through.length]);
    }
    const start = turns[0][0];
    return { prompt: full.slice(0, start), response: full.slice(start), turns };
  };
}
