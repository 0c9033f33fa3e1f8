import assert from 'node:assert/strict';
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { compile } from '../../src/compiler/index.js';
import { smallLlamaConfig, tempDir } from '../helpers.js';

/** A project: pipelines/p.ft beside data/, models/tiny/ and a tokenizer, as a user lays it out. */
function project(): string {
  const root = tempDir();
  mkdirSync(join(root, 'pipelines'));
  mkdirSync(join(root, 'data'));
  writeFileSync(join(root, 'data', 'a.json'), '[]');
  mkdirSync(join(root, 'models', 'tiny'), { recursive: true });
  writeFileSync(join(root, 'models', 'tiny', 'config.json'), smallLlamaConfig(2048));
  writeFileSync(join(root, 'models', 'tiny', 'tokenizer.json'), '{}');
  return root;
}

const pipeline = (output: string, exportOutput?: string) => `pipeline p { seed = 1 }
data raw { source = "../data/a.json" }
preprocess prompts {
  input    = raw
  prompt   = "{q}"
  response = "{a}"
}
tokenizer tok {
  input = prompts
  vocab = "../models/tiny/tokenizer.json"
}
model base { path = "../models/tiny" }
lora adapter { model = base }
trainer sft {
  model  = adapter
  data   = tok
  output = ${JSON.stringify(output)}
}
${exportOutput === undefined ? '' : `export gguf {\n  model  = sft\n  format = gguf\n  output = ${JSON.stringify(exportOutput)}\n}\n`}`;

function outputDiagnostics(root: string, text: string): string[] {
  return compile(text, join(root, 'pipelines', 'p.ft')).diagnostics
    .filter((d) => d.code === 'E0350' || d.code === 'E0351')
    .map((d) => `${d.line}:${d.column} ${d.code} ${d.message}`);
}

const advice = 'ftc replaces its outputs, so an output must be a path of its own, apart from every input (e.g. output = "sft-out").';

test('an output apart from every input passes', () => {
  assert.deepEqual(outputDiagnostics(project(), pipeline('lora-finetuned', 'exports/tiny.gguf')), []);
});

test('an output that is, contains or lies inside an input is reported at the output value', () => {
  const root = project();
  const cases: [string, string][] = [
    ['../data', `contains data 'raw''s source "../data/a.json"`],
    ['../data/a.json', `is data 'raw''s source "../data/a.json"`],
    ['../models/tiny', `is model 'base''s path "../models/tiny"`],
    ['../models/tiny/lora', `lies inside model 'base''s path "../models/tiny"`],
    ['../models', `contains tokenizer 'tok''s vocab "../models/tiny/tokenizer.json"`],
    ['p.ft', 'is the pipeline file p.ft'],
    ['.ftc', 'contains the artifact cache'],
    ['.ftc/cache/out', 'lies inside the artifact cache'],
    [join(root, 'data'), `contains data 'raw''s source "../data/a.json"`],
  ];
  for (const [output, says] of cases) {
    assert.deepEqual(outputDiagnostics(root, pipeline(output)), [`17:12 E0350 trainer 'sft': output "${output}" ${says}; ${advice}`], output);
  }
});

test('an output reached through a symlink is seen for what it is', () => {
  const root = project();
  symlinkSync(join(root, 'data'), join(root, 'pipelines', 'shortcut'));
  assert.deepEqual(outputDiagnostics(root, pipeline('shortcut')), [`17:12 E0350 trainer 'sft': output "shortcut" contains data 'raw''s source "../data/a.json"; ${advice}`]);
});

test('two stages writing the same output (or one inside the other) are an error', () => {
  const root = project();
  assert.deepEqual(outputDiagnostics(root, pipeline('out', 'out')), [
    `22:12 E0351 export 'gguf': output "out" is also the output of trainer 'sft' ("out", line 17); give each stage an output of its own.`,
  ]);
  assert.deepEqual(outputDiagnostics(root, pipeline('out', 'out/model.gguf')), [
    `22:12 E0351 export 'gguf': output "out/model.gguf" lies inside the output of trainer 'sft' ("out", line 17); give each stage an output of its own.`,
  ]);
});

test('absurd values pass the schema but warn with the reason (W0150)', () => {
  const text = pipeline('out').replace('  output = "out"', '  output = "out"\n  lr = 1e10\n  epochs = 1000000\n').replace('lora adapter { model = base }', 'lora adapter {\n  model = base\n  alpha = 1e6\n}');
  const got = compile(text, '/nowhere/p.ft', { checkFiles: false }).diagnostics.filter((d) => d.code === 'W0150').map((d) => `${d.line}:${d.column} ${d.message}`);
  assert.deepEqual(got, [
    "15:11 lora 'adapter': alpha = 1e6 is probably a mistake: a scaling (alpha / r) this large makes the adapter's first update overwhelm the base model.",
    "21:8 trainer 'sft': lr = 1e10 is probably a mistake: a learning rate above 1 makes AdamW diverge at once (the loss goes to ln(vocab) or NaN); LoRA fine-tuning uses 1e-5 to 1e-3, often 2e-4.",
    "22:12 trainer 'sft': epochs = 1000000 is probably a mistake: more than 1,000 passes over the data only memorises it and runs for days; 1 to 5 epochs is usual.",
  ]);
});
