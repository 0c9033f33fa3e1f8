import assert from 'node:assert/strict';
import { join } from 'node:path';
import { before, describe, test } from 'node:test';
import { saveAdapter } from '../../src/runtime/model/peft.js';
import { runCli, tempDir } from '../helpers.js';

describe('ftc score and ftc generate', () => {
  const dir = tempDir();
  const model = join(dir, 'model');
  const adapter = join(dir, 'adapter');

  before(() => {
    const r = runCli(['init-model', model, '--layers', '1', '--hidden', '32', '--heads', '4', '--kv-heads', '2', '--ffn', '48', '--vocab', '300']);
    assert.equal(r.status, 0, r.stderr);
    // A hand-made PEFT adapter on layer 0's v_proj: A [r=1, 32], B [16, 1], both non-zero.
    const A = { shape: [1, 32], data: new Float32Array(32).map((_, i) => Math.sin(i)) };
    const B = { shape: [16, 1], data: new Float32Array(16).map((_, i) => Math.cos(i) * 3) };
    saveAdapter(adapter, new Map([
      ['base_model.model.model.layers.0.self_attn.v_proj.lora_A.weight', A],
      ['base_model.model.model.layers.0.self_attn.v_proj.lora_B.weight', B],
    ]), { r: 1, alpha: 2, dropout: 0, targetModules: ['v_proj'], bias: 'none', useRslora: false, baseModel: model });
  });

  test('score --ids --format json: loss is the mean of -logprobs; an adapter changes it', () => {
    const base = runCli(['score', '--model', model, '--ids', '1 5 9 20 7', '--format', 'json', '--backend', 'cpu']);
    assert.equal(base.status, 0, base.stderr);
    const r = JSON.parse(base.stdout) as { tokens: number; loss: number; logprobs: number[] };
    assert.equal(r.tokens, 5);
    assert.equal(r.logprobs.length, 4);
    assert.ok(Math.abs(r.loss + r.logprobs.reduce((s, v) => s + v, 0) / 4) < 1e-5);
    const adapted = runCli(['score', '--model', model, '--adapter', adapter, '--ids', '1 5 9 20 7', '--format', 'json', '--backend', 'cpu']);
    assert.equal(adapted.status, 0, adapted.stderr);
    assert.notEqual(JSON.parse(adapted.stdout).loss, r.loss);
  });

  test('score rejects ids outside the vocabulary with a clear error', () => {
    const r = runCli(['score', '--model', model, '--ids', '1 300', '--backend', 'cpu']);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /error\[E_USAGE\]: --ids: "300" is not a token id below the vocabulary size 300/);
  });

  test('generate is reproducible with a seed and runs with an adapter', () => {
    const args = ['generate', '--model', model, '--adapter', adapter, '--prompt', 'Give three tips', '--max-new-tokens', '8', '--temperature', '0.9', '--seed', '4', '--backend', 'cpu'];
    const a = runCli(args);
    const b = runCli(args);
    assert.equal(a.status, 0, a.stderr);
    assert.equal(a.stdout, b.stdout);
    assert.ok(a.stdout.trim().length > 0);
  });
});
