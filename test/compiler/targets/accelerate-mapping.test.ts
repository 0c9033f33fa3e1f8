import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { compile } from '../../../src/compiler/index.js';
import { checkForAccelerate, compileToAccelerate, mappingDoc, MAPPING } from '../../../src/compiler/targets/accelerate/index.js';
import { sectionArgs } from '../../../src/compiler/targets/accelerate/mapping.js';
import { MAPPING_DOC_PATH } from '../../../src/compiler/targets/accelerate/write-doc.js';
import { jobSchema } from '../../../src/schema/job.js';
import { schemas, STAGE_KINDS } from '../../../src/schema/index.js';
import { repoRoot } from '../../helpers.js';

test('the mapping table has exactly one row per key of every block kind (header and job block included)', () => {
  const expected = [
    ...Object.keys(schemas.pipeline!.properties).map((k) => `pipeline.${k}`),
    ...Object.keys(jobSchema.properties!).map((k) => `job.${k}`),
    ...STAGE_KINDS.flatMap((kind) => Object.keys(schemas[kind]!.properties).map((k) => `${kind}.${k}`)),
  ].sort();
  assert.deepEqual(MAPPING.map((m) => `${m.block}.${m.key}`).sort(), expected);
});

test('docs/accelerate.md is current (regenerate: node dist/src/compiler/targets/accelerate/write-doc.js)', () => {
  assert.equal(readFileSync(join(repoRoot(), MAPPING_DOC_PATH), 'utf8'), mappingDoc());
});

const PIPELINE = `pipeline p {
  seed = 1
}
data raw {
  source = "d.jsonl"
}
preprocess pp {
  input    = raw
  prompt   = "{q}"
  response = "{a}"
}
tokenizer tok {
  input = pp
  vocab = "t.json"
}
model base {
  path = "m"
}
lora ad {
  model = base
}
trainer sft {
  model  = ad
  data   = tok
  output = "out"
}
export ex {
  model  = sft
  format = gguf
  output = "x.gguf"
}
`;

function check(text: string, overrides: string[] = []) {
  const r = compile(text, '/tmp/p.ft', { checkFiles: false, overrides });
  assert.ok(r.ir, JSON.stringify(r.diagnostics));
  return checkForAccelerate(r.ir, { ast: r.ast, pipelineFile: 'p.ft', hasEval: false }).diagnostics;
}

test('a value with no equivalent is a compile error naming the stage and the key, at the key', () => {
  const errors = check(PIPELINE).filter((d) => d.severity === 'error');
  assert.equal(errors.length, 1);
  assert.equal(errors[0]!.code, 'E0401');
  assert.match(errors[0]!.message, /^export 'ex': `format = "gguf"` has no equivalent in --target accelerate: /);
  assert.equal(errors[0]!.line, 29);
  assert.equal(errors[0]!.column, 3);
});

test('header settings with no torch meaning are errors too; their default values compile', () => {
  const text = PIPELINE.replace('format = gguf', 'format = merged');
  assert.deepEqual(check(text), []);
  const errors = check(text, ['pipeline.backend=wasm', 'pipeline.workers=4']);
  assert.deepEqual(errors.map((d) => [d.code, d.message.split(':')[0]]), [['E0401', 'pipeline header'], ['E0401', 'pipeline header']]);
  assert.match(errors[0]!.message, /`backend = "wasm"`/);
  assert.match(errors[1]!.message, /`workers = 4`.*num_processes = 4/);
});

test('QLoRA keys: nf4 is clean for ftc run and for the accelerate target (both train it); compute_dtype without nf4 warns in the target', () => {
  const text = PIPELINE.replace('  model = base\n}', '  model = base\n  quantization = nf4\n}');
  const forRun = compile(text, '/tmp/p.ft', { checkFiles: false });
  assert.deepEqual(forRun.diagnostics.map((d) => [d.severity, d.code]), []);
  const nf4 = compile(text, '/tmp/p.ft', { checkFiles: false, target: 'accelerate' });
  assert.deepEqual(nf4.diagnostics.map((d) => [d.severity, d.code]), []);
  const stray = check(PIPELINE.replace('format = gguf', 'format = peft').replace('  model = base\n}', '  model = base\n  compute_dtype = fp16\n}'));
  assert.deepEqual(stray.map((d) => [d.severity, d.code]), [['warning', 'W0401']]);
});

test('quantization = fp4 compiles to BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type="fp4") in train.py; ftc run accepts it too', () => {
  const text = PIPELINE.replace('format = gguf', 'format = peft').replace('  model = base\n}', '  model = base\n  quantization = fp4\n  double_quant = true\n}');
  const forRun = compile(text, '/tmp/p.ft', { checkFiles: false });
  assert.deepEqual(forRun.diagnostics.map((d) => [d.severity, d.code]), []);
  const r = compile(text, '/tmp/p.ft', { checkFiles: false, target: 'accelerate' });
  assert.ok(r.ir, JSON.stringify(r.diagnostics));
  assert.deepEqual(r.diagnostics.map((d) => [d.severity, d.code]), []);
  const exported = { trainFile: '/tmp/train.jsonl', evalFile: '/tmp/eval.jsonl', tokenizerFile: '/tmp/tokenizer.json', rows: { train: 4, eval: 0 }, specials: {}, added: { prefix: [], suffix: [] } };
  const job = compileToAccelerate(r.ir, { outDir: '/tmp/job', exported, pipelineFile: 'p.ft', ast: r.ast });
  assert.deepEqual(job.diagnostics.filter((d) => d.severity === 'error'), []);
  const script = job.files.get('train.py')!;
  assert.match(script, /BitsAndBytesConfig\([^)]*load_in_4bit=True/);
  assert.match(script, /bnb_4bit_quant_type="fp4"/);
  assert.doesNotMatch(script, /bnb_4bit_quant_type="nf4"/);
  assert.match(script, /bnb_4bit_use_double_quant=True/);
  assert.match(job.files.get('requirements.txt')!, /bitsandbytes/);
});

test('warmup_ratio becomes a fractional warmup_steps (transformers 5 has no warmup_ratio); a ratio of 1 is an error', () => {
  const text = PIPELINE.replace('format = gguf', 'format = peft');
  const args = (overrides: string[]) => {
    const r = compile(text, '/tmp/p.ft', { checkFiles: false, overrides });
    assert.ok(r.ir, JSON.stringify(r.diagnostics));
    const params = r.ir.stages.find((s) => s.kind === 'trainer')!.params;
    return sectionArgs('TrainingArguments', 'trainer', { ir: r.ir, params, hasEval: false });
  };
  assert.equal(args(['sft.warmup_ratio=0.25']).warmup_steps, 0.25);
  assert.equal('warmup_ratio' in args(['sft.warmup_ratio=0.25']), false);
  assert.equal(args(['sft.warmup_ratio=0.25', 'sft.warmup_steps=3']).warmup_steps, 3, 'explicit steps win, as in ftc');
  assert.equal(args([]).warmup_steps, 0);
  assert.deepEqual(check(text, ['sft.warmup_ratio=0.5']), []);
  const errors = check(text, ['sft.warmup_ratio=1']);
  assert.deepEqual(errors.map((d) => d.code), ['E0401']);
  assert.match(errors[0]!.message, /^trainer 'sft': `warmup_ratio = 1` has no equivalent in --target accelerate: .*set warmup_steps/);
  assert.deepEqual(check(text, ['sft.warmup_ratio=1', 'sft.warmup_steps=5']), []);
});

test('eval_on_start maps to TrainingArguments(eval_on_start); eval_max_examples has no equivalent and is an error at its key', async () => {
  const { sectionArgs } = await import('../../../src/compiler/targets/accelerate/mapping.js');
  const text = PIPELINE.replace('format = gguf', 'format = peft');
  const r = compile(text, '/tmp/p.ft', { checkFiles: false, overrides: ['sft.eval_on_start=true'] });
  const trainer = r.ir!.stages.find((s) => s.name === 'sft')!;
  assert.equal(sectionArgs('TrainingArguments', 'trainer', { ir: r.ir!, params: trainer.params, hasEval: true }).eval_on_start, true);
  assert.equal(sectionArgs('TrainingArguments', 'trainer', { ir: r.ir!, params: trainer.params, hasEval: false }).eval_on_start, undefined);
  assert.deepEqual(check(text), []);
  const errors = check(text.replace('  output = "out"\n', '  output = "out"\n  eval_max_examples = 100\n'));
  assert.deepEqual(errors.map((d) => [d.code, d.line, d.column]), [['E0401', 26, 3]]);
  assert.match(errors[0]!.message, /^trainer 'sft': `eval_max_examples = 100` has no equivalent in --target accelerate: transformers evaluates the whole eval set/);
});

test('use_dora and modules_to_save become LoraConfig arguments', () => {
  const text = PIPELINE.replace('format = gguf', 'format = peft').replace('  model = base\n}', '  model = base\n  use_dora = true\n  modules_to_save = [embed_tokens, lm_head]\n}');
  const r = compile(text, '/tmp/p.ft', { checkFiles: false });
  assert.ok(r.ir, JSON.stringify(r.diagnostics));
  const params = r.ir.stages.find((s) => s.kind === 'lora')!.params;
  const args = sectionArgs('LoraConfig', 'lora', { ir: r.ir, params, hasEval: false });
  assert.equal(args.use_dora, true);
  assert.deepEqual(args.modules_to_save, ['embed_tokens', 'lm_head']);
});
