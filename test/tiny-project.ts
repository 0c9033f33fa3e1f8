/**
 * The tiny project end-to-end tests run `ftc` on: rows in data.json, a model from `ftc init-model` trained on them
 * as its tokenizer corpus, and a pipeline data → preprocess → tokenizer → model → (lora) → trainer over both.
 * Each test states only the keys it is about; the rest are the defaults below.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runCli } from './helpers.js';

/** An Alpaca-style row. */
export interface Row {
  instruction: string;
  input: string;
  output: string;
}

/** Rows whose answers a tiny model can learn in a few steps: "What color is the sky?" → "The sky is blue.". */
export function colourRows(n: number): Row[] {
  const colours: Record<string, string> = { apple: 'red', banana: 'yellow', grass: 'green', sky: 'blue', snow: 'white', coal: 'black', plum: 'purple' };
  const keys = Object.keys(colours);
  return Array.from({ length: n }, (_, i) => {
    const k = keys[(i * 5 + 3) % keys.length]!;
    return { instruction: `What color is the ${k}?`, input: '', output: `The ${k} is ${colours[k]}.` };
  });
}

export function writeRows(dir: string, rows: Row[]): void {
  writeFileSync(join(dir, 'data.json'), JSON.stringify(rows));
}

export interface TinyModelDims {
  layers?: number;
  hidden?: number;
  heads?: number;
  kvHeads?: number;
  ffn?: number;
  vocab?: number;
  maxPositions?: number;
  dtype?: 'f32' | 'f16';
}

/** `ftc init-model DIR/name` (1 layer, hidden 32, 2/1 heads, ffn 64, vocab 300, 64 positions unless told), its tokenizer trained on DIR/data.json. */
export function initTinyModel(dir: string, dims: TinyModelDims = {}, name = 'model'): string {
  const d = { layers: 1, hidden: 32, heads: 2, kvHeads: 1, ffn: 64, vocab: 300, maxPositions: 64, ...dims };
  const args = ['init-model', join(dir, name), '--layers', String(d.layers), '--hidden', String(d.hidden), '--heads', String(d.heads),
    '--kv-heads', String(d.kvHeads), '--ffn', String(d.ffn), '--vocab', String(d.vocab), '--max-positions', String(d.maxPositions),
    ...(d.dtype ? ['--dtype', d.dtype] : []), '--corpus', join(dir, 'data.json')];
  const r = runCli(args);
  assert.equal(r.status, 0, r.stderr);
  return join(dir, name);
}

/** A block's keys as .ft source text (strings with their quotes), in order; undefined leaves a default out. */
export type Keys = Record<string, string | number | undefined>;

export interface TinyPipeline {
  name?: string;
  seed?: number;
  preprocess?: Keys;
  tokenizer?: Keys;
  model?: Keys;
  /** The lora stage's keys, or false for full fine-tuning (the trainer then trains the model stage). */
  lora?: Keys | false;
  trainer?: Keys;
  /** Blocks after the trainer (export stages). */
  tail?: string;
}

/** The pipeline text: each block's defaults, then the test's keys (replacing a default in place); the trainer's output last. */
export function tinyPipeline(p: TinyPipeline = {}): string {
  const lora = p.lora === false ? undefined : p.lora ?? {};
  const { output = '"out"', ...keys } = p.trainer ?? {};
  const trainer: Keys = { model: lora ? 'adapter' : 'base', data: 'tok', batch_size: 4, ...keys };
  return [
    block('pipeline', p.name ?? 'tiny', { seed: p.seed ?? 1 }),
    block('data', 'raw', { source: '"data.json"' }),
    block('preprocess', 'prompts', { input: 'raw', prompt: '"{instruction}"', response: '"{output}"', ...p.preprocess }),
    block('tokenizer', 'tok', { input: 'prompts', vocab: '"model/tokenizer.json"', max_length: 32, ...p.tokenizer }),
    block('model', 'base', { path: '"model"', ...p.model }),
    ...(lora ? [block('lora', 'adapter', { model: 'base', r: 4, alpha: 8, target_modules: '[q_proj, v_proj]', ...lora })] : []),
    block('trainer', 'sft', { ...trainer, output }),
  ].join('') + (p.tail ?? '');
}

function block(kind: string, name: string, keys: Keys): string {
  const set = Object.entries(keys).filter((e): e is [string, string | number] => e[1] !== undefined);
  const width = Math.max(...set.map(([k]) => k.length));
  return `${kind} ${name} {\n${set.map(([k, v]) => `  ${k.padEnd(width)} = ${v}\n`).join('')}}\n`;
}
