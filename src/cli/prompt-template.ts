import { resolve } from 'node:path';
import type { Tokenizer } from 'tokenizers';
import { FtcError } from '../errors.js';
import type { PipelineIR, StageIR } from '../compiler/ir.js';
import { chatRenderer } from '../runtime/preprocess/chat.js';
import { alpacaRenderer, compileTemplate, type Renderer } from '../runtime/preprocess/template.js';
import type { SpecialToken } from '../runtime/tokenize/specials.js';

/** How `ftc generate FILE` turns the user's text into the prompt training saw. */
export interface PromptFormat {
  /** In words, for the note on stderr: which stage's template. */
  describe: string;
  format(text: string, fields: Record<string, string>): string;
  /** The tokenizer stage's add_bos: prepend BOS unless the prompt starts with it, as training did. */
  addBos: boolean;
}

/**
 * The prompt template of the preprocess stage that feeds the trainer's tokenizer stage, rendered by
 * the runtime's own template code so the text is the one training saw. The user's text goes into
 * the template's first field (alpaca: instruction; chat: one user message); `fields` fill others by
 * name, and fields not given are empty, as a record with an empty `input` is in training.
 * Undefined when no preprocess stage shapes the prompt (the raw text is then the prompt).
 */
export function pipelinePromptFormat(ir: PipelineIR): PromptFormat | undefined {
  const byName = new Map(ir.stages.map((s) => [s.name, s]));
  const trainer = ir.stages.find((s) => s.kind === 'trainer');
  const tokenizer = byName.get(String(trainer?.params.data ?? '')) ?? ir.stages.find((s) => s.kind === 'tokenizer');
  const pre = tokenizer && byName.get(String(tokenizer.params.input));
  if (!tokenizer || pre?.kind !== 'preprocess') return undefined;
  const addBos = tokenizer.params.add_bos !== false;
  const template = String(pre.params.template ?? 'custom');
  const where = `preprocess \`${pre.name}\``;

  if (template === 'chat') {
    const file = String(pre.params.chat_template);
    const field = String(pre.params.messages_field ?? 'messages');
    const render = chatRenderer(resolve(ir.dir, file), file, field);
    return {
      describe: `the chat template of ${where} (${file})`,
      addBos,
      // A conversation of one user turn; the empty assistant turn only marks where the prompt ends.
      format: (text) => render({ [field]: [{ role: 'user', content: text }, { role: 'assistant', content: '' }] }, REF).prompt,
    };
  }
  const [render, fields] = template === 'alpaca' ? [alpacaRenderer(''), ['instruction', 'input']] : customRenderer(pre);
  return {
    describe: template === 'alpaca' ? `the Alpaca prompt of ${where}` : `the prompt template of ${where}: ${JSON.stringify(pre.params.prompt)}`,
    addBos,
    format(text, given) {
      const unknown = Object.keys(given).filter((k) => !fields.includes(k));
      if (unknown.length > 0) {
        throw new FtcError('E_USAGE', `--field ${unknown[0]}: the prompt template of ${where} has no field ${unknown[0]}`, undefined,
          `its fields are ${fields.join(', ')}`);
      }
      const first = fields.find((f) => given[f] === undefined);
      const record = Object.fromEntries(fields.map((f) => [f, given[f] ?? (f === first ? text : '')]));
      return render(record, REF).prompt;
    },
  };
}

/**
 * A formatted prompt's ids as the tokenizer stage encodes prompts: without the tokenizer's own special
 * tokens, BOS prepended (when add_bos and the tokenizer has one) unless the text already starts with it.
 */
export async function encodePrompt(tokenizer: Tokenizer, text: string, bos: SpecialToken | undefined): Promise<number[]> {
  const ids = (await tokenizer.encode(text, null, { addSpecialTokens: false })).getIds();
  return bos && !text.startsWith(bos.text) ? [bos.id, ...ids] : ids;
}

/** Rendering errors name a record; here the "record" is the command line. */
const REF = { index: 1, source: 'the command line' };

function customRenderer(pre: StageIR): [Renderer, string[]] {
  const prompt = compileTemplate(String(pre.params.prompt ?? '{prompt}'), 'prompt');
  const fields = [...new Set(prompt.fields)];
  return [(record, ref) => ({ prompt: prompt.render(record, ref), response: '' }), fields];
}
