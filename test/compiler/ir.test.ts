import assert from 'node:assert/strict';
import { test } from 'node:test';
import { compile, renderGraph } from '../../src/compiler/index.js';

// Written out of source order on purpose: the trainer first, the data last.
const PIPELINE = `pipeline order {
  seed = 11
}
trainer sft {
  model  = adapter
  data   = tok
  output = "out"
  seed   = 5
}
lora adapter {
  model = base
}
model base {
  path = "m"
}
tokenizer tok {
  input = prompts
  train = { vocab_size = 300 }
}
preprocess prompts {
  input    = raw
  template = alpaca
}
data raw {
  source = "d.json"
}
`;

const ir = (text: string, overrides: string[] = []) => {
  const r = compile(text, '/work/x/order.ft', { checkFiles: false, overrides });
  assert.deepEqual(r.diagnostics, []);
  return r.ir!;
};

test('stages come in topological order, ties broken by source order', () => {
  // Ready at the start: base (source 3) and raw (6) -> base first; then adapter (2) is ready
  // before prompts (5); tok (4) needs prompts; sft last.
  assert.deepEqual(
    ir(PIPELINE).stages.map((s) => s.name),
    ['base', 'adapter', 'raw', 'prompts', 'tok', 'sft'],
  );
});

test('defaults are filled from the schema, nested blocks included; seed inherited unless set', () => {
  const p = ir(PIPELINE);
  assert.equal(p.name, 'order');
  assert.equal(p.seed, 11);
  assert.equal(p.file, '/work/x/order.ft');
  assert.equal(p.dir, '/work/x');
  assert.deepEqual(p.settings, { backend: 'auto', workers: 'auto' });
  const byName = Object.fromEntries(p.stages.map((s) => [s.name, s]));
  assert.deepEqual(byName.adapter!.params, {
    model: 'base',
    r: 8,
    alpha: 8,
    target_modules: ['q_proj', 'v_proj'],
    dropout: 0,
    bias: 'none',
    use_rslora: false,
    seed: 11,
  });
  assert.equal(byName.sft!.params.seed, 5);
  assert.deepEqual(byName.tok!.params.train, { vocab_size: 300, min_frequency: 2 });
  assert.deepEqual(byName.sft!.inputs, ['adapter', 'tok']);
  assert.deepEqual(byName.base!.files, ['m']);
  assert.deepEqual(byName.raw!.files, ['d.json']);
  assert.equal(byName.raw!.range.line, 24);
});

test('--set overrides values, validated like the file, and points at the override', () => {
  const p = ir(PIPELINE, ['sft.lr=1e-4', 'adapter.target_modules=[q_proj, k_proj]', 'pipeline.seed=9']);
  const byName = Object.fromEntries(p.stages.map((s) => [s.name, s]));
  assert.equal(byName.sft!.params.lr, 1e-4);
  assert.deepEqual(byName.adapter!.params.target_modules, ['q_proj', 'k_proj']);
  assert.equal(p.seed, 9);
  assert.equal(byName.adapter!.params.seed, 9);
  const bad = compile(PIPELINE, '/work/x/order.ft', { checkFiles: false, overrides: ['sft.lr=0', 'sfx.lr=1', 'sft.rate=1', 'nonsense'] });
  assert.equal(bad.ir, undefined);
  assert.deepEqual(
    bad.diagnostics.map((d) => [d.file, d.code, d.line, d.column, d.endColumn]),
    [
      ['<--set>', 'E0104', 1, 8, 9],
      ['<--set>', 'E0111', 2, 1, 4],
      ['<--set>', 'E0102', 3, 5, 9],
      ['<--set>', 'E0110', 4, 1, 9],
    ],
  );
  assert.match(bad.diagnostics[1]!.message, /Did you mean `sft`\?/);
});

test('graph renderings', () => {
  const p = ir(PIPELINE);
  assert.equal(
    renderGraph(p, 'mermaid'),
    'graph LR\n    base["model: base"]\n    adapter["lora: adapter"]\n    raw["data: raw"]\n    prompts["preprocess: prompts"]\n    tok["tokenizer: tok"]\n    sft["trainer: sft"]\n' +
      '    base --> adapter\n    raw --> prompts\n    prompts --> tok\n    adapter --> sft\n    tok --> sft\n',
  );
  assert.match(renderGraph(p, 'dot'), /^digraph "order" \{\n  rankdir=LR;[\s\S]*  "adapter" -> "sft";\n  "tok" -> "sft";\n\}\n$/);
  assert.equal(
    renderGraph(p, 'text'),
    'pipeline order\n  model base\n  lora adapter        <- base\n  data raw\n  preprocess prompts  <- raw\n  tokenizer tok       <- prompts\n  trainer sft         <- adapter, tok\n',
  );
});

test('a 5,000-stage chain builds in linear-ish time without overflowing the stack', () => {
  const n = 5000;
  let text = 'pipeline big {\n}\ndata s0 {\n  source = "d.json"\n}\n';
  for (let i = 1; i < n; i++) text += `preprocess s${i} {\n  input = s${i - 1}\n  template = alpaca\n}\n`;
  const t0 = performance.now();
  const r = compile(text, '/x/big.ft', { checkFiles: false });
  const ms = performance.now() - t0;
  assert.equal(r.diagnostics.filter((d) => d.severity === 'error').length, 0);
  assert.equal(r.ir!.stages.length, n);
  assert.ok(ms < 10_000, `${ms} ms`);
});
