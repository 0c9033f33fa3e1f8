import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { exportStages } from '../../../src/cli/commands/compile.js';
import { compileFile } from '../../../src/compiler/index.js';
import type { PipelineIR } from '../../../src/compiler/ir.js';
import type { FileNode } from '../../../src/compiler/ast.js';
import { compileToAccelerate, type AccelerateJob, type ExportedData } from '../../../src/compiler/targets/accelerate/index.js';
import { repoRoot, runCli, tempDir } from '../../helpers.js';

/** Empty input and instruction, responses starting with punctuation or a space or mid-word, non-ASCII and astral characters. */
const TRICKY_ALPACA = [
  { instruction: 'Say hi', input: '', output: '!!! hi' },
  { instruction: '', input: '', output: ', and then?' },
  { instruction: 'Translate', input: 'café', output: 'Kaffee ☕ 😀' },
  { instruction: 'Emoji 🎉 in the prompt', input: '日本語', output: '...yes' },
  { instruction: 'Trailing space ', input: '', output: ' leading space' },
  { instruction: 'Quote', input: '"x"', output: '"y" 🙂🙂' },
  { instruction: 'Dash', input: 'a-', output: '-b' },
  { instruction: 'Newline', input: 'x\n', output: '\nz' },
  { instruction: 'Number', input: '12', output: '34' },
  { instruction: 'Empty-ish', input: ' ', output: '.' },
  // The response continues the prompt's last word, so a token can straddle the boundary (masked).
  { instruction: 'Complete the word', input: 'hel', output: 'lo world' },
  { instruction: 'Complete the word', input: 'th', output: 'e end' },
  { instruction: 'Complete the number', input: '12', output: '345' },
  { instruction: 'Continue', input: 'Wh', output: 'ich is larger?' },
];
type Turn = { role: string; content: string };
const chat = (...pairs: string[]): Turn[] => pairs.map((content, i) => ({ role: i % 2 ? 'assistant' : 'user', content }));
/** Several assistant turns, an emoji and other non-ASCII text inside them, punctuation first, an empty user turn. */
const TRICKY_CHATS: Turn[][] = [
  [{ role: 'system', content: 'Be brief.' }, ...chat('Héllo?', '¡Hola! 😀 ça va', '', '...', 'Und?', '!Gut 🎉')],
  chat('日本の首都は?', '東京です 🗼', 'Thanks', ', welcome 🙂'),
  chat('', '😀'),
  chat('Emoji 🎉', '"quoted" 🧪 text', 'more', '-dash'),
  chat('x', '  two spaces', 'y', '\tTab'),
  chat('Count', '1, 2, 3 🐍', 'Again', '4 💡 5', 'Last', '.'),
  chat('a', 'b'),
  chat('Ünïcödé', 'ÀÉÎÕÜ 𝔘𝔫𝔦𝔠𝔬𝔡𝔢'),
  chat('q', '?'),
  chat('Why?', 'Because 🤷.'),
];

/** The example pipelines with golden jobs, and what they need besides the tiny model. */
export const EXAMPLES: readonly { name: string; pipeline: string; data: readonly string[]; write?: Record<string, string>; overrides?: string[] }[] = [
  { name: 'alpaca-lora', pipeline: 'alpaca-lora', data: ['alpaca_sample.json'] },
  { name: 'chat-qlora', pipeline: 'chat-qlora', data: ['chat_sample.jsonl', 'chat_tokenizer_config.json'] },
  // No golden files: short sequences so truncation, dropped examples, and packing with loss on prompts happen.
  { name: 'alpaca-short-packed', pipeline: 'alpaca-lora', data: [], overrides: ['tok.max_length=40', 'tok.train_on_inputs=true', 'tok.add_bos=false', 'tok.packing=true'] },
  { name: 'alpaca-short', pipeline: 'alpaca-lora', data: [], overrides: ['tok.max_length=40'] },
  // No golden files: rows where joined-text encoding and offset masking matter (see TRICKY_*).
  { name: 'alpaca-tricky', pipeline: 'alpaca-lora', data: [], write: { 'tricky.json': JSON.stringify(TRICKY_ALPACA) }, overrides: ['raw.source="../data/tricky.json"', 'prompts.eval_split=0.2'] },
  { name: 'chat-tricky', pipeline: 'chat-qlora', data: ['chat_tokenizer_config.json'], write: { 'tricky.jsonl': TRICKY_CHATS.map((c) => JSON.stringify({ messages: c })).join('\n') + '\n' }, overrides: ['chats.source="../data/tricky.jsonl"', 'conversations.eval_split=0.2', 'tok.packing=false'] },
];
export const GOLDEN_EXAMPLES = ['alpaca-lora', 'chat-qlora'];

export interface CompiledExample {
  name: string;
  ir: PipelineIR;
  ast: FileNode;
  exported: ExportedData;
  job: AccelerateJob;
  /** Where the job is (or would be) written: <workspace>/jobs/<name>. */
  outDir: string;
}

/**
 * A workspace laid out like the repository (pipelines/, data/, models/tiny-llama from ftc init-model)
 * in a temp dir, so relative paths in the generated files are the same on every machine; each
 * example compiled through ftc's own data/preprocess/tokenizer stages into a private cache.
 */
export async function compileExamples(): Promise<{ root: string; examples: CompiledExample[] }> {
  const root = tempDir('ftc-accelerate-');
  mkdirSync(join(root, 'pipelines'));
  mkdirSync(join(root, 'data'));
  const init = runCli(['init-model', join(root, 'models', 'tiny-llama')]);
  if (init.status !== 0) throw new Error(`init-model failed: ${init.stderr}`);
  const examples: CompiledExample[] = [];
  for (const ex of EXAMPLES) {
    copyFileSync(join(repoRoot(), 'pipelines', `${ex.pipeline}.ft`), join(root, 'pipelines', `${ex.pipeline}.ft`));
    for (const d of ex.data) copyFileSync(join(repoRoot(), 'data', d), join(root, 'data', d));
    for (const [d, text] of Object.entries(ex.write ?? {})) writeFileSync(join(root, 'data', d), text);
    const compiled = compileFile(join(root, 'pipelines', `${ex.pipeline}.ft`), { overrides: ex.overrides ?? [], target: 'accelerate' });
    if (!compiled.ir) throw new Error(`${ex.name}: ${JSON.stringify(compiled.diagnostics)}`);
    const tokenizer = compiled.ir.stages.find((s) => s.kind === 'trainer')!.params.data as string;
    const exported = await exportStages(compiled.ir, tokenizer, { cacheDir: join(root, 'cache') });
    const outDir = join(root, 'jobs', ex.name);
    const job = compileToAccelerate(compiled.ir, { outDir, exported, pipelineFile: `pipelines/${ex.pipeline}.ft`, ast: compiled.ast });
    examples.push({ name: ex.name, ir: compiled.ir, ast: compiled.ast, exported, job, outDir });
  }
  return { root, examples };
}
