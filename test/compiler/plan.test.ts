import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { cpSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { existsSync } from 'node:fs';
import { compile, formatYaml, parseFt, planHash, planPipeline } from '../../src/compiler/index.js';
import { schemas } from '../../src/schema/index.js';
import { planJson } from '../../src/cli/commands/plan.js';
import { repoRoot, smallLlamaConfig, tempDir } from '../helpers.js';

const sha = (s: string) => createHash('sha256').update(s).digest('hex');

const DATA = '[{"instruction":"Say hi","input":"","output":"hi"}]\n';
// Llama-2-7B's defaults (only the context is set): its bytes are pinned in the keys below.
const CONFIG = '{"architectures":["LlamaForCausalLM"],"max_position_embeddings":64}';
const TOKENIZER = '{"model":{"type":"BPE"}}';

/** A pipeline directory: d.json and a model dir m/ with a config and a tokenizer. */
function workspace(): string {
  const dir = tempDir();
  writeFileSync(join(dir, 'd.json'), DATA);
  mkdirSync(join(dir, 'm'));
  writeFileSync(join(dir, 'm', 'config.json'), CONFIG);
  writeFileSync(join(dir, 'm', 'tokenizer.json'), TOKENIZER);
  return dir;
}

const PIPELINE = `pipeline tiny {
  seed = 3
}
data raw {
  source = "d.json"
}
preprocess prompts {
  input    = raw
  template = alpaca
}
tokenizer tok {
  input      = prompts
  vocab      = "m/tokenizer.json"
  max_length = 32
}
model base {
  path = "m"
}
lora adapter {
  model = base
  r     = 4
}
trainer sft {
  model     = adapter
  data      = tok
  lr        = 1e-3
  log_every = 5
  output    = "out"
}
`;

async function keys(text: string, dir: string, file = 'p.ft'): Promise<Record<string, string>> {
  // A 7B model does not fit in memory here (E_MEMORY_PLAN); cache keys do not depend on that.
  const r = compile(text, join(dir, file), { buildIrDespite: ['E_MEMORY_PLAN'] });
  assert.deepEqual(r.diagnostics.filter((d) => d.code !== 'E_MEMORY_PLAN'), []);
  const plan = await planPipeline(r.ir!);
  return Object.fromEntries(plan.stages.map((s) => [s.name, s.key]));
}

test('cache keys are sha256 of canonical JSON of kind, version, params, upstream keys and file hashes', async () => {
  const k = await keys(PIPELINE, workspace());
  // Written by hand from the schema's defaults, independently of the planner.
  const raw = sha(`{"files":{"d.json":"${sha(DATA)}"},"kind":"data","params":{"on_error":"fail","source":"d.json","text_mode":"line"},"version":1}`);
  assert.equal(k.raw, raw);
  const prompts = sha(
    `{"files":{},"kind":"preprocess","params":{"dedupe":false,"eval_split":0,"input":{"stage":"${raw}"},"messages_field":"messages","seed":3,"shuffle":true,"template":"alpaca","train_on":"all_turns"},"version":2}`,
  );
  assert.equal(k.prompts, prompts);
  const modelDir = sha(`{"config.json":"${sha(CONFIG)}","tokenizer.json":"${sha(TOKENIZER)}"}`);
  assert.equal(k.base, sha(`{"files":{"m":"${modelDir}"},"kind":"model","params":{"path":"m"},"version":1}`));
  // Pinned: a change here means every user's cache is invalidated; do it only on purpose
  // (tokenizer version 3: its artifact holds the held-out prompts for eval_generate).
  assert.deepEqual(k, {
    raw: 'ecf8d90015086746519da60457de924442887a9a1ebc017d891fe8ffe652eb08',
    prompts: '63a4418ca0b4044895a4d6ec03eee2edfe1f9624bd0cca3f44e756c5b8a0c79e',
    tok: '19fbc433fd960fe1e80b491e378cc099cd5045752f4dbff59fc7f9fbb90a8390',
    base: 'ead0de7118adb312469743c22d193d73e31b96b50cd392da9cddb68f6f1b9410',
    adapter: '6035853fcf54212ffe314bff04e4c8e0e5c601d4b2cd996eae14d52de39c91e5',
    sft: 'bff37c30a7a76f9f7a61a9938adf3f21324248c51c7ed30ad15849bedc9a2ccc',
  });
});

test('keys ignore comments, formatting, key order, x-cache:false keys and stage names', async () => {
  const dir = workspace();
  const base = await keys(PIPELINE, dir);
  const reformatted = PIPELINE.replace('  r     = 4', '# rank\n  r = 4   # small').replace('  model = base\n  r', '  r = 4\n  model = base\n  x').replace('  x = 4', '');
  assert.deepEqual(await keys(reformatted, dir), base);
  const logEvery = await keys(PIPELINE.replace('log_every = 5', 'log_every = 50').replace('output    = "out"', 'output    = "elsewhere"').replace('max_length = 32', 'max_length = 32\n  workers    = 3'), dir);
  assert.deepEqual(logEvery, base);
  const renamed = await keys(PIPELINE.replace(/\braw\b/g, 'records'), dir);
  assert.equal(renamed.records, base.raw);
  assert.equal(renamed.sft, base.sft);
});

test('keys change exactly where a parameter that determines the output changes', async () => {
  const dir = workspace();
  const base = await keys(PIPELINE, dir);
  const lr = await keys(PIPELINE.replace('lr        = 1e-3', 'lr        = 2e-3'), dir);
  assert.deepEqual(changed(base, lr), ['sft']);
  const r = await keys(PIPELINE.replace('r     = 4', 'r     = 8'), dir);
  assert.deepEqual(changed(base, r), ['adapter', 'sft']);
  const seed = await keys(PIPELINE.replace('seed = 3', 'seed = 4'), dir);
  assert.deepEqual(changed(base, seed), ['prompts', 'tok', 'adapter', 'sft']);
  writeFileSync(join(dir, 'd.json'), DATA.replace('hi"}', 'hello"}'));
  const data = await keys(PIPELINE, dir);
  assert.deepEqual(changed(base, data), ['raw', 'prompts', 'tok', 'sft']);
  writeFileSync(join(dir, 'm', 'extra.bin'), 'x');
  assert.ok(changed(data, await keys(PIPELINE, dir)).includes('base'));
});

const changed = (a: Record<string, string>, b: Record<string, string>) => Object.keys(a).filter((n) => a[n] !== b[n]);

test('the .ft and .ft.yaml form of every shipped pipeline give the same plan JSON', async () => {
  const root = tempDir();
  cpSync(join(repoRoot(), 'pipelines'), join(root, 'pipelines'), { recursive: true });
  const fts = readdirSync(join(root, 'pipelines')).filter((f) => f.endsWith('.ft'));
  assert.ok(fts.length >= 1);
  for (const ft of fts) {
    const ftPath = join(root, 'pipelines', ft);
    const yamlPath = `${ftPath}.yaml`;
    const ftText = readFileSync(ftPath, 'utf8');
    // Every example runs with ftc run, chat-qlora's nf4 base included.
    const target = 'run';
    // Placeholders for every path the pipeline names: directories for x-path dir keys.
    const ir = compile(ftText, ftPath, { checkFiles: false, target }).ir!;
    for (const s of ir.stages) {
      for (const [key, ks] of Object.entries(schemas[s.kind]!.properties)) {
        const p = s.params[key];
        if (!ks['x-path'] || typeof p !== 'string') continue;
        const abs = join(ir.dir, p);
        if (ks['x-path'] === 'dir') {
          mkdirSync(abs, { recursive: true });
          writeFileSync(join(abs, 'config.json'), smallLlamaConfig(2048));
        } else {
          mkdirSync(join(abs, '..'), { recursive: true });
          // A chat template file must hold one: check reads it (E_CHAT_TEMPLATE otherwise).
          writeFileSync(abs, key === 'chat_template' ? JSON.stringify({ chat_template: '{{ messages }}' }) : `placeholder for ${p}\n`);
        }
      }
    }
    const ftResult = compile(ftText, ftPath, { target });
    // A pipeline shipped without its YAML twin is compared with its conversion (ftc convert --to yaml).
    const yamlText = existsSync(yamlPath) ? readFileSync(yamlPath, 'utf8') : formatYaml(parseFt(ftText, ftPath).ast);
    const yamlResult = compile(yamlText, yamlPath, { target });
    const errors = (r: typeof ftResult) => r.diagnostics.filter((d) => d.severity === 'error');
    assert.deepEqual(errors(ftResult), [], ft);
    assert.deepEqual(errors(yamlResult), [], `${ft}.yaml`);
    assert.deepEqual(yamlResult.diagnostics.map((d) => d.code), ftResult.diagnostics.map((d) => d.code), 'same warnings');
    const [a, b] = [await planPipeline(ftResult.ir!), await planPipeline(yamlResult.ir!)];
    assert.deepEqual(planJson(b), planJson(a), ft);
    assert.equal(planHash(a), planHash(b));
  }
});
