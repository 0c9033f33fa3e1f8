import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Command, InvalidArgumentError, Option } from 'commander';
import { INIT_MODEL_DEFAULTS, initModel, readCorpusTexts } from '../../runtime/model/init.js';

/** `ftc init-model DIR`: a small random Llama in Hugging Face layout, with a BPE tokenizer trained on a corpus. */
export function register(program: Command): void {
  const d = INIT_MODEL_DEFAULTS;
  program
    .command('init-model')
    .description('Write a small randomly initialised Llama model (config.json, model.safetensors, tokenizer) to DIR')
    .argument('<dir>', 'directory to create')
    .option('--layers <n>', 'decoder layers (num_hidden_layers)', positiveInt, d.layers)
    .option('--hidden <n>', 'hidden size', positiveInt, d.hidden)
    .option('--heads <n>', 'attention heads', positiveInt, d.heads)
    .option('--kv-heads <n>', 'key/value heads (grouped-query attention)', positiveInt, d.kvHeads)
    .option('--ffn <n>', 'MLP intermediate size', positiveInt, d.ffn)
    .option('--vocab <n>', 'vocabulary size (BPE tokenizer and embeddings)', positiveInt, d.vocab)
    .option('--max-positions <n>', 'max_position_embeddings (context length)', positiveInt, d.maxPositions)
    .option('--seed <n>', 'initialisation seed: same seed and options, same bytes', nonNegativeInt, d.seed)
    .option('--corpus <file>', 'text to train the tokenizer on: .json/.jsonl records (string fields) or plain text (default: the shipped data/alpaca_sample.json)')
    .addOption(new Option('--dtype <dtype>', 'weight dtype in model.safetensors').choices(['f32', 'f16']).default(d.dtype))
    .option('--if-missing', 'do nothing when DIR already holds a config.json')
    .action((dir: string, o: Record<string, unknown>) => {
      if (o.ifMissing && existsSync(join(dir, 'config.json'))) {
        process.stdout.write(`${dir} already holds a model; left as is\n`);
        return;
      }
      const corpus = o.corpus ? readCorpusTexts(resolve(o.corpus as string)) : defaultCorpus();
      const { config, tokenizerVocab } = initModel(dir, {
        layers: o.layers as number,
        hidden: o.hidden as number,
        heads: o.heads as number,
        kvHeads: o.kvHeads as number,
        ffn: o.ffn as number,
        vocab: o.vocab as number,
        maxPositions: o.maxPositions as number,
        seed: o.seed as number,
        dtype: o.dtype as 'f32' | 'f16',
        corpus,
      });
      const c = config;
      const perLayer = c.hiddenSize * c.headDim * (2 * c.numAttentionHeads + 2 * c.numKeyValueHeads) + 3 * c.hiddenSize * c.intermediateSize + 2 * c.hiddenSize;
      const params = c.numHiddenLayers * perLayer + c.vocabSize * c.hiddenSize * (c.tieWordEmbeddings ? 1 : 2) + c.hiddenSize;
      process.stdout.write(`wrote ${dir}: Llama, ${c.numHiddenLayers} layers, hidden ${c.hiddenSize}, ` +
        `${c.numAttentionHeads}/${c.numKeyValueHeads} heads, vocab ${c.vocabSize}, ${params.toLocaleString('en-US')} parameters\n`);
      if (tokenizerVocab < c.vocabSize) {
        process.stderr.write(`warning: the corpus filled only ${tokenizerVocab} of ${c.vocabSize} vocabulary entries; the rest stay unused (a larger --corpus fills them)\n`);
      }
    });
}

function positiveInt(v: string): number {
  const n = Number(v);
  if (!/^\d+$/.test(v) || !Number.isSafeInteger(n) || n < 1) throw new InvalidArgumentError('expected a positive integer');
  return n;
}

function nonNegativeInt(v: string): number {
  const n = Number(v);
  if (!/^\d+$/.test(v) || !Number.isSafeInteger(n) || n > 0xffffffff) throw new InvalidArgumentError('expected an integer in [0, 2^32)');
  return n;
}

/** The shipped Alpaca sample; without it, the package's README, so init-model works from any install. */
function defaultCorpus(): string[] {
  let root = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(root, 'package.json')) && dirname(root) !== root) root = dirname(root);
  const sample = join(root, 'data', 'alpaca_sample.json');
  if (existsSync(sample)) return readCorpusTexts(sample);
  process.stderr.write(`warning: ${sample} not found; training the tokenizer on the README instead (pass --corpus FILE)\n`);
  const readme = join(root, 'README.md');
  return existsSync(readme) ? [readFileSync(readme, 'utf8')] : [FALLBACK_TEXT];
}

const FALLBACK_TEXT = 'The quick brown fox jumps over the lazy dog. A pipeline describes data, a tokenizer, a model and a trainer.';
