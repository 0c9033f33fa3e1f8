import { type Command, InvalidArgumentError, Option } from 'commander';
import { FtcError } from '../../errors.js';
import type { ModelArgs } from '../../runtime/model/open.js';
import { argsFromPipeline } from '../model-args.js';

interface GenerateFlags extends ModelArgs {
  prompt: string;
  maxNewTokens: number;
  temperature: number;
  topP: number;
  seed: number;
}

/** `ftc generate FILE|--model DIR [--adapter DIR] --prompt TEXT`: continue a prompt with the (adapted) model. */
export function register(program: Command): void {
  program
    .command('generate')
    .description('Generate text from a prompt with a model and an optional LoRA adapter (greedy, or sampled with --temperature/--top-p)')
    .argument('[pipeline]', 'pipeline file: the model comes from its model stage and the adapter from its trainer output')
    .option('--model <dir>', 'model directory (Hugging Face layout)')
    .option('--adapter <dir>', 'PEFT adapter directory (adapter_config.json + adapter_model.safetensors)')
    .requiredOption('--prompt <text>', 'the prompt')
    .option('--max-new-tokens <n>', 'most tokens to generate', int(1), 64)
    .option('--temperature <t>', '0 for greedy decoding, otherwise the sampling temperature', num(0), 0)
    .option('--top-p <p>', 'nucleus sampling mass (with --temperature > 0)', num(0), 1)
    .option('--seed <n>', 'sampling seed', int(0), 0)
    .addOption(new Option('--backend <name>', 'tensor backend').choices(['auto', 'tensorflow-gpu', 'tensorflow', 'wasm', 'cpu']).default('auto'))
    .action(async (pipeline: string | undefined, o: GenerateFlags) => {
      // Loaded on use: tfjs takes a second to import, and most commands never need it.
      const args = pipeline ? argsFromPipeline(pipeline, o) : o;
      if (!args) return;
      const { openModel } = await import('../../runtime/model/open.js');
      const { generate } = await import('../../runtime/model/generate.js');
      const { model, tokenizer } = await openModel(args, true);
      try {
        const prompt = (await tokenizer!.encode(o.prompt)).getIds();
        if (prompt.length === 0) throw new FtcError('E_USAGE', 'the prompt encodes to no tokens');
        const ids = generate(model, prompt, { maxNewTokens: o.maxNewTokens, temperature: o.temperature, topP: o.topP, seed: o.seed });
        process.stdout.write((await tokenizer!.decode(ids, true)) + '\n');
      } finally {
        model.dispose();
      }
    });
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
