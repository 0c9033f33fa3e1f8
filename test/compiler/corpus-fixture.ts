import { cpSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot, smallLlamaConfig, tempDir } from '../helpers.js';

export const CORPUS_DIR = join(repoRoot(), 'test/compiler/corpus');

/**
 * A temp copy of the corpus beside the files its pipelines name: a data file and model
 * directories whose config.json makes each cross-stage check fire (or not).
 */
export function corpusWorkspace(): string {
  const dir = tempDir('ftc-corpus-');
  cpSync(CORPUS_DIR, dir, { recursive: true });
  const write = (rel: string, text: string) => {
    mkdirSync(join(dir, rel, '..'), { recursive: true });
    writeFileSync(join(dir, rel), text);
  };
  write('data/records.json', JSON.stringify([{ instruction: 'Say hi', output: 'hi' }]));
  const llama = (ctx: number) => smallLlamaConfig(ctx);
  write('models/llama/config.json', llama(1024));
  write('models/short/config.json', llama(256));
  write('models/gpt2/config.json', JSON.stringify({ architectures: ['GPT2LMHeadModel'], n_positions: 1024 }));
  write('models/mamba/config.json', JSON.stringify({ architectures: ['MambaForCausalLM'] }));
  write('models/broken/config.json', '{"architectures": [');
  mkdirSync(join(dir, 'models/empty'), { recursive: true });
  return dir;
}
