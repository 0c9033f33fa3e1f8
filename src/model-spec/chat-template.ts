import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { FtcError } from '../errors.js';

/** Where a chat template was found, and its Jinja source. */
export interface ChatTemplateSource {
  source: string;
  /** The file the template text came from: tokenizer_config.json or the chat_template.jinja beside it. */
  file: string;
  /** That file as messages name it (relative to the pipeline, as the user wrote the path). */
  shown: string;
}

/** Beside tokenizer_config.json, where transformers (4.43 and later) saves the template by default. */
export const CHAT_TEMPLATE_FILE = 'chat_template.jinja';

/**
 * The chat template of a tokenizer_config.json, found as transformers finds it: its `chat_template`
 * (a string, or a list of named templates of which `default` is used, else the first), else a
 * `chat_template.jinja` in the same directory. An unreadable file or no template is E_CHAT_TEMPLATE.
 */
export function findChatTemplate(file: string, display = file): ChatTemplateSource & { config: Record<string, unknown> } {
  let config: Record<string, unknown>;
  try {
    const parsed: unknown = JSON.parse(readFileSync(file, 'utf8'));
    if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) throw new Error('not a JSON object');
    config = parsed as Record<string, unknown>;
  } catch (e) {
    throw new FtcError('E_CHAT_TEMPLATE', `cannot read ${display}: ${(e as Error).message}`, { file: display });
  }
  const inline = chatTemplateOf(config.chat_template);
  if (inline !== undefined) return { source: inline, file, shown: display, config };
  const jinja = join(dirname(file), CHAT_TEMPLATE_FILE);
  if (existsSync(jinja)) return { source: readFileSync(jinja, 'utf8'), file: jinja, shown: join(dirname(display), CHAT_TEMPLATE_FILE), config };
  throw new FtcError('E_CHAT_TEMPLATE', `${display} has no chat_template (nor a ${CHAT_TEMPLATE_FILE} beside it)`, { file: display },
    'point chat_template at the tokenizer_config.json of a chat model');
}

/** A tokenizer_config.json's `chat_template` value as one template: a string, or the `default` (else first) of named ones. */
export function chatTemplateOf(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (Array.isArray(value)) {
    const named = value as Array<{ name?: unknown; template?: unknown }>;
    const t = (named.find((x) => x?.name === 'default') ?? named[0])?.template;
    return typeof t === 'string' ? t : undefined;
  }
  return undefined;
}

/**
 * The template's Jinja syntax error, if it has one, as `ftc check` reports it before any stage runs: parsed with
 * the same library the preprocess stage renders with (@huggingface/jinja), loaded only when a pipeline has a chat
 * template, since most commands never need it.
 */
export function chatTemplateSyntaxError(t: ChatTemplateSource): FtcError | undefined {
  const { Template } = createRequire(import.meta.url)('@huggingface/jinja') as typeof import('@huggingface/jinja');
  try {
    new Template(t.source);
    return undefined;
  } catch (e) {
    return unparsableChatTemplate(t.shown, e);
  }
}

/** E_CHAT_TEMPLATE for a template the Jinja parser refuses (its messages name no position, so the hint says what to look for). */
export function unparsableChatTemplate(display: string, e: unknown): FtcError {
  return new FtcError('E_CHAT_TEMPLATE', `the chat template in ${display} does not parse: ${(e as Error).message}`, { file: display },
    'every {% for %}, {% if %} and {% macro %} needs its {% end... %}, and every {{ and {% its closing }} or %}');
}
