import { cpSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { initModel } from '../../src/runtime/model/init.js';
import { repoRoot, tempDir } from '../helpers.js';

export const CORPUS_DIR = join(repoRoot(), 'test/check-before-run/corpus');

/**
 * A temp copy of the corpus beside what its pipelines name: records, chats, a tiny Llama made by
 * init-model, and copies of it whose config.json or tokenizer.json differ in the one way a case needs.
 */
export function workspace(): { dir: string; tokenizerVocab: number; modelVocab: number } {
  const dir = tempDir('ftc-check-before-run-');
  cpSync(CORPUS_DIR, dir, { recursive: true });
  const write = (rel: string, text: string) => {
    mkdirSync(join(dir, rel, '..'), { recursive: true });
    writeFileSync(join(dir, rel), text);
  };
  write('data/records.json', JSON.stringify(Array.from({ length: 6 }, (_, i) => ({ instruction: `Say ${i}`, output: `hello ${i}` }))));
  write('data/chats.jsonl', [0, 1, 2, 3].map((i) => JSON.stringify({ messages: [{ role: 'user', content: `hi ${i}` }, { role: 'assistant', content: `hello ${i}` }] })).join('\n') + '\n');
  write('data/no_template_config.json', JSON.stringify({ bos_token: '<s>', eos_token: '</s>' }));
  // A {% for %} never closed: Jinja refuses it when the template is parsed.
  write('data/unclosed_template_config.json', JSON.stringify({ eos_token: '</s>', chat_template: '{% for m in messages %}{{ m.role }}: {{ m.content }}\n' }));
  const tiny = join(dir, 'models/tiny');
  mkdirSync(join(dir, 'models'), { recursive: true });
  const { config } = initModel(tiny, { layers: 1, hidden: 16, heads: 2, kvHeads: 1, ffn: 24, vocab: 260, maxPositions: 64, seed: 0, dtype: 'f32', corpus: ['hello world, hello model, say hi'] });
  // One token more than the embedding table: added tokens up to id vocab_size inclusive.
  const tok = JSON.parse(readFileSync(join(tiny, 'tokenizer.json'), 'utf8')) as { model: { vocab: Record<string, number> }; added_tokens: { id: number; content: string }[] };
  const ids = new Set([...Object.values(tok.model.vocab), ...tok.added_tokens.map((a) => a.id)]);
  for (let id = 0; id <= config.vocabSize; id++) {
    if (!ids.has(id)) tok.added_tokens.push({ id, content: `<extra_${id}>`, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true } as never);
  }
  writeFileSync(join(tiny, 'tokenizer-plus-one.json'), JSON.stringify(tok));
  const variant = (name: string, change: (c: Record<string, unknown>) => void) => {
    cpSync(tiny, join(dir, 'models', name), { recursive: true });
    const file = join(dir, 'models', name, 'config.json');
    const c = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
    change(c);
    writeFileSync(file, JSON.stringify(c, null, 2));
  };
  variant('gelu', (c) => { c.hidden_act = 'gelu'; });
  variant('llama3-rope', (c) => {
    delete c.rope_theta;
    delete c.rope_scaling;
    c.rope_parameters = { rope_type: 'llama3', rope_theta: 500000, factor: 8, low_freq_factor: 1, high_freq_factor: 4, original_max_position_embeddings: 64 };
  });
  variant('odd-heads', (c) => { c.num_attention_heads = 3; c.num_key_value_heads = 1; c.head_dim = 6; });
  return { dir, tokenizerVocab: tok.added_tokens.length + Object.keys(tok.model.vocab).length, modelVocab: config.vocabSize };
}
