import type { StageNode } from '../ast.js';
import { schemas, STAGE_KINDS } from '../../schema/index.js';
import type { ValidationContext } from './context.js';
import { didYouMean } from './suggest.js';
import { describeSchema } from './values.js';

const label = (s: StageNode): string => `${s.kind} '${s.name}'`;

/** E0101: the block kind must be one of the language's kinds. */
export function knownKind(stage: StageNode, ctx: ValidationContext): void {
  if (ctx.schemaOf(stage)) return;
  const known = ['pipeline', ...STAGE_KINDS];
  ctx.error('E0101', stage.kindRange, `Unknown block kind \`${stage.kind}\`.${didYouMean(stage.kind, known)} Known kinds: ${known.join(', ')}.`);
}

/**
 * Hugging Face names that users bring from transformers/peft (learning_rate, lora_alpha...).
 * The schema's descriptions mention them; an unknown key equal to one suggests the ftc key.
 */
function aliasOf(kind: string, key: string): string | undefined {
  const props = schemas[kind]?.properties ?? {};
  return key.includes('_') ? Object.keys(props).find((k) => mentionsWord(props[k]!.description, key)) : undefined;
}

const isWordChar = (c: string | undefined): boolean => c !== undefined && /\w/.test(c);

/** Whether `text` has `word` standing alone (not inside a longer word). A plain search: the user's key never becomes a pattern. */
function mentionsWord(text: string, word: string): boolean {
  for (let at = text.indexOf(word); at >= 0; at = text.indexOf(word, at + 1)) {
    if (!isWordChar(text[at - 1]) && !isWordChar(text[at + word.length])) return true;
  }
  return false;
}

/** E0102: every key must be declared by the kind's schema; a near miss gets a suggestion. */
export function unknownKeys(stage: StageNode, ctx: ValidationContext): void {
  const schema = ctx.schemaOf(stage);
  if (!schema) return;
  const known = Object.keys(schema.properties);
  for (const e of stage.entries) {
    if (ctx.keySchema(stage, e.key)) continue;
    const alias = aliasOf(stage.kind, e.key);
    const hint = alias ? ` Did you mean \`${alias}\`? (ftc's name for ${e.key})` : didYouMean(e.key, known) || ` Known keys: ${known.join(', ')}.`;
    ctx.error('E0102', e.keyRange, `${label(stage)} has no key \`${e.key}\`.${hint}`);
  }
}

/** E0107: a key set twice in one stage; the first one counts. */
export function duplicateKeys(stage: StageNode, ctx: ValidationContext): void {
  const seen = new Map<string, number>();
  for (const e of stage.entries) {
    const line = seen.get(e.key);
    if (line === undefined) seen.set(e.key, e.keyRange.line);
    else ctx.error('E0107', e.keyRange, `${label(stage)} sets \`${e.key}\` twice (first on line ${line}); remove one.`);
  }
}

/** What to write for a missing key: a stage name of the right kind, or a value of the right shape. */
function placeholder(kind: string, key: string): string {
  const s = schemas[kind]!.properties[key]!;
  return s['x-ref'] ? `<${s['x-ref'].join(' or ')} stage>` : `<${describeSchema(s)}>`;
}

/** E0106: every required key is present. */
export function requiredKeys(stage: StageNode, ctx: ValidationContext): void {
  const schema = ctx.schemaOf(stage);
  if (!schema) return;
  for (const key of schema.required) {
    if (ctx.entry(stage, key)) continue;
    ctx.error('E0106', stage.nameRange, `${label(stage)} is missing the required key \`${key}\`: add \`${key} = ${placeholder(stage.kind, key)}\` (${schema.properties[key]!.description})`);
  }
}

/** E0108: template = custom (the default) needs both `prompt` and `response` templates. */
export function customTemplateNeedsPrompts(stage: StageNode, ctx: ValidationContext): void {
  const t = ctx.entry(stage, 'template')?.value;
  const template = t?.type === 'ident' ? t.name : t?.type === 'string' ? t.value : 'custom';
  if (template !== 'custom') return;
  for (const key of ['prompt', 'response']) {
    if (ctx.entry(stage, key)) continue;
    ctx.error('E0108', stage.nameRange, `${label(stage)} uses template = custom but has no \`${key}\`: add \`${key} = "{field}..."\` or choose template = alpaca | chat.`);
  }
}

/** E0308/E0309: a tokenizer either loads a vocabulary or trains one, never both or neither. */
export function vocabXorTrain(stage: StageNode, ctx: ValidationContext): void {
  const vocab = ctx.entry(stage, 'vocab');
  const train = ctx.entry(stage, 'train');
  if (vocab && train) ctx.error('E0308', train.keyRange, `${label(stage)} sets both \`vocab\` and \`train\`: load a tokenizer.json (vocab) or train one (train), not both.`);
  if (!vocab && !train) ctx.error('E0309', stage.nameRange, `${label(stage)} needs \`vocab = "path/to/tokenizer.json"\` or a \`train { vocab_size = ... }\` block.`);
}
