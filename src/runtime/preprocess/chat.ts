import { readFileSync } from 'node:fs';
import { Template } from '@huggingface/jinja';
import { FtcError, isFtcError } from '../../errors.js';
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
 * Reads the Jinja `chat_template` of a tokenizer_config.json (a string, or a list of named
 * templates of which `default` is used) and the special tokens templates refer to.
 */
export function loadChatTemplate(file: string, display: string): { template: Template; specials: Record<string, string> } {
  let config: Record<string, unknown>;
  try {
    config = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
  } catch (e) {
    throw new FtcError('E_CHAT_TEMPLATE', `cannot read ${display}: ${(e as Error).message}`, { file: display });
  }
  let source = config.chat_template;
  if (Array.isArray(source)) {
    const named = source as Array<{ name?: string; template?: string }>;
    source = (named.find((t) => t.name === 'default') ?? named[0])?.template;
  }
  if (typeof source !== 'string') {
    throw new FtcError('E_CHAT_TEMPLATE', `${display} has no chat_template`, { file: display }, 'point chat_template at the tokenizer_config.json of a chat model');
  }
  const specials: Record<string, string> = {};
  for (const key of ['bos_token', 'eos_token', 'unk_token', 'pad_token']) {
    const text = tokenText(config[key]);
    if (text !== undefined) specials[key] = text;
  }
  try {
    return { template: new Template(source), specials };
  } catch (e) {
    throw new FtcError('E_CHAT_TEMPLATE', `the chat_template of ${display} does not parse: ${(e as Error).message}`, { file: display });
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

/**
 * Chat data: the conversation up to the last assistant turn is rendered with
 * add_generation_prompt = true (the prompt); the whole conversation through that turn is
 * rendered too, and the response is what it adds after the prompt (the assistant's text
 * plus the template's end-of-turn markup, which the model must learn to emit).
 */
export function chatRenderer(file: string, display: string, field: string): Renderer {
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
    let last = -1;
    for (let i = messages.length - 1; i >= 0 && last === -1; i--) if (messages[i].role === 'assistant') last = i;
    if (last === -1) {
      throw new FtcError('E_CHAT_MESSAGES', `record ${ref.index} of \`${ref.source}\`: the conversation has no assistant message to learn`, { row: ref.index });
    }
    const prompt = render(messages.slice(0, last), true, ref);
    const full = render(messages.slice(0, last + 1), false, ref);
    if (!full.startsWith(prompt)) {
      throw new FtcError(
        'E_CHAT_TEMPLATE',
        `record ${ref.index} of \`${ref.source}\`: the chat template renders the conversation differently with and without its last assistant turn, so the prompt cannot be split from the response`,
        { row: ref.index },
      );
    }
    return { prompt, response: full.slice(prompt.length) };
  };
}
