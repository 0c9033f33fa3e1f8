import { type Command, Option } from 'commander';
import { FtcError } from '../../errors.js';
import type { ModelArgs } from '../../runtime/model/open.js';

interface ScoreFlags extends ModelArgs {
  text?: string;
  ids?: string;
  format: 'text' | 'json';
}

/** `ftc score --model DIR [--adapter DIR] (--text TEXT | --ids "1 2 3")`: mean next-token loss and log-probs. */
export function register(program: Command): void {
  program
    .command('score')
    .description('Score a text or token ids: mean next-token loss and per-token log-probabilities')
    .requiredOption('--model <dir>', 'model directory (Hugging Face layout)')
    .option('--adapter <dir>', 'PEFT adapter directory')
    .option('--text <text>', 'text to score (tokenized with the model directory\'s tokenizer.json)')
    .option('--ids <ids>', 'token ids to score, e.g. "1 2 3"')
    .addOption(new Option('--format <format>', 'output format').choices(['text', 'json']).default('text'))
    .addOption(new Option('--backend <name>', 'tensor backend').choices(['auto', 'tensorflow-gpu', 'tensorflow', 'wasm', 'cpu']).default('auto'))
    .action(async (o: ScoreFlags) => {
      if ((o.text === undefined) === (o.ids === undefined)) throw new FtcError('E_USAGE', 'give exactly one of --text and --ids');
      // Loaded on use: tfjs takes a second to import, and most commands never need it.
      const { openModel, parseIds } = await import('../../runtime/model/open.js');
      const { score } = await import('../../runtime/model/score.js');
      const { model, tokenizer } = await openModel(o, o.text !== undefined);
      try {
        const ids = o.text !== undefined ? (await tokenizer!.encode(o.text)).getIds() : parseIds(o.ids!, model.config.vocabSize);
        if (ids.length < 2) throw new FtcError('E_USAGE', `scoring needs at least 2 tokens, got ${ids.length}`, undefined, 'a longer text or more ids');
        const r = score(model, ids);
        process.stdout.write(o.format === 'json'
          ? JSON.stringify(r) + '\n'
          : `tokens ${r.tokens}  loss ${r.loss.toFixed(4)}  perplexity ${Math.exp(r.loss).toFixed(2)}\n`);
      } finally {
        model.dispose();
      }
    });
}
