import { type Command, InvalidArgumentError, Option } from 'commander';
import { FtcError } from '../../errors.js';
import { join } from 'node:path';
import type { ModelArgs } from '../../runtime/model/open.js';
import { argsFromPipeline } from '../model-args.js';

interface GenerateFlags extends ModelArgs {
  prompt: string;
  raw?: boolean;
  field: string[];
  maxNewTokens: number;
  temperature: number;
  topP: number;
  seed: number;
}

/**
 * `ftc generate FILE|--model DIR [--adapter DIR] --prompt TEXT`: continue a prompt with the (adapted) model.
 * With a pipeline file the text is put into the pipeline's prompt (or chat) template first and encoded
 * as training encoded prompts, so the model is asked what training taught it; --raw sends the text as is.
 */
export function register(program: Command): void {
  program
    .command('generate')
    .description('Generate text from a prompt with a model and an optional LoRA adapter (greedy, or sampled with --temperature/--top-p)')
    .argument('[pipeline]', 'pipeline file: the model comes from its model stage and the adapter from its trainer output')
    .option('--model <dir>', 'model directory (Hugging Face layout)')
    .option('--adapter <dir>', 'PEFT adapter directory (adapter_config.json + adapter_model.safetensors)')
    .requiredOption('--prompt <text>', "the prompt; with a pipeline file it fills the prompt template's first field (alpaca: the instruction)")
    .option('--field <name=value>', 'fill another field of the prompt template (repeatable), e.g. --field input="some context"', collect, [])
    .option('--raw', "send --prompt as it is, without the pipeline's prompt template")
    .option('--max-new-tokens <n>', 'most tokens to generate', int(1), 64)
    .option('--temperature <t>', '0 for greedy decoding, otherwise the sampling temperature', num(0), 0)
    .option('--top-p <p>', 'nucleus sampling mass (with --temperature > 0)', num(0), 1)
    .option('--seed <n>', 'sampling seed', int(0), 0)
    .addOption(new Option('--backend <name>', 'tensor backend').choices(['auto', 'tensorflow-gpu', 'tensorflow', 'wasm', 'cpu']).default('auto'))
    .action(async (pipeline: string | undefined, o: GenerateFlags) => {
      const fromPipeline = pipeline ? await argsFromPipeline(pipeline, o) : undefined;
      if (pipeline && !fromPipeline) return;
      const args = fromPipeline?.args ?? o;
      // Loaded on use: the chat template code brings in jinja, which other commands never need.
      const format = fromPipeline && !o.raw ? (await import('../prompt-template.js')).pipelinePromptFormat(fromPipeline.ir) : undefined;
      if (!format && o.field.length > 0) throw new FtcError('E_USAGE', '--field fills a field of a pipeline\'s prompt template', undefined, 'pass a pipeline file, and leave out --raw');
      // Loaded on use: tfjs takes a second to import, and most commands never need it.
      const { openModel } = await import('../../runtime/model/open.js');
      const { generate } = await import('../../runtime/model/generate.js');
      const { model, tokenizer, stopTokens } = await openModel(args, true);
      try {
        let prompt: number[];
        if (format) {
          const text = format.format(o.prompt, fieldsOf(o.field));
          process.stderr.write(`prompt formatted with ${format.describe} (--raw sends the text as it is)\n`);
          const [{ findSpecialTokens }, { encodePrompt }] = await Promise.all([import('../../runtime/tokenize/specials.js'), import('../prompt-template.js')]);
          const bos = format.addBos ? findSpecialTokens(tokenizer!, join(args.model!, 'tokenizer.json')).bos : undefined;
          prompt = await encodePrompt(tokenizer!, text, bos);
        } else prompt = (await tokenizer!.encode(o.prompt)).getIds();
        if (prompt.length === 0) throw new FtcError('E_USAGE', 'the prompt encodes to no tokens');
        const ids = generate(model, prompt, { maxNewTokens: o.maxNewTokens, temperature: o.temperature, topP: o.topP, seed: o.seed, eosTokenIds: stopTokens });
        process.stdout.write((await tokenizer!.decode(ids, true)) + '\n');
      } finally {
        model.dispose();
      }
    });
}

function fieldsOf(pairs: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const pair of pairs) {
    const eq = pair.indexOf('=');
    if (eq <= 0) throw new FtcError('E_USAGE', `--field ${pair}: expected name=value`);
    out[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  return out;
}

function collect(v: string, all: string[]): string[] {
  return [...all, v];
}

function int(min: number): (v: string) => number {
  return (v) => {
    const n = Number(v);
    if (!/^\d+$/.test(v) || n < min) throw new InvalidArgumentError(`expected an integer >= ${min}`);
    return n;
  };
}

function num(min: number): (v: string) => number {
  return (v) => {
    const n = Number(v);
    if (v.trim() === '' || !Number.isFinite(n) || n < min) throw new InvalidArgumentError(`expected a number >= ${min}`);
    return n;
  };
}
