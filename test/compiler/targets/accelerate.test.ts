import assert from 'node:assert/strict';
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { before, test } from 'node:test';
import { writeJob } from '../../../src/cli/commands/compile.js';
import { TESTED_BITSANDBYTES, TESTED_VERSIONS } from '../../../src/compiler/targets/accelerate/requirements.js';
import { epochOrder } from '../../../src/runtime/train/batches.js';
import { readTokenDataset } from '../../../src/runtime/tokenize/dataset.js';
import { repoRoot, runCli } from '../../helpers.js';
import { pythonEnv, requirePython } from '../../interop/env.js';
import { compileExamples, GOLDEN_EXAMPLES, type CompiledExample } from './accelerate-fixture.js';

const GOLDEN = join(repoRoot(), 'test', 'compiler', 'targets', 'golden');
const update = process.env.UPDATE_GOLDEN === '1';

let examples: CompiledExample[] = [];
let root = '';
before(async () => {
  ({ examples, root } = await compileExamples());
  for (const ex of examples) writeJob(ex.outDir, ex.job.files, ex.job.copies);
});

test('golden: every generated file of the example pipelines (UPDATE_GOLDEN=1 rewrites them)', () => {
  assert.deepEqual(examples.filter((ex) => GOLDEN_EXAMPLES.includes(ex.name)).length, 2);
  for (const ex of examples.filter((e) => GOLDEN_EXAMPLES.includes(e.name))) {
    assert.deepEqual(ex.job.diagnostics, [], ex.name);
    for (const [rel, text] of ex.job.files) {
      const file = join(GOLDEN, ex.name, rel);
      if (update) {
        mkdirSync(dirname(file), { recursive: true });
        writeFileSync(file, text);
        continue;
      }
      assert.ok(existsSync(file), `${ex.name}/${rel}: no golden file (run with UPDATE_GOLDEN=1)`);
      assert.equal(text, readFileSync(file, 'utf8'), `${ex.name}/${rel} differs from its golden file`);
    }
    assert.deepEqual([...ex.job.files.keys()].sort(), ['README.md', 'accelerate.yaml', 'ftc_data.py', 'requirements.txt', 'tokenizer/tokenizer_config.json', 'train.py']);
  }
});

test('the job reads the preprocess and tokenizer artifacts ftc itself produced', () => {
  for (const ex of examples) {
    const copies = ex.job.copies;
    assert.equal(copies.get('data/train.jsonl'), ex.exported.trainFile);
    assert.equal(copies.get('tokenizer/tokenizer.json'), ex.exported.tokenizerFile);
    assert.equal(readFileSync(join(ex.outDir, 'data', 'train.jsonl'), 'utf8'), readFileSync(ex.exported.trainFile, 'utf8'));
    assert.ok(ex.exported.rows.eval > 0 && copies.has('data/eval.jsonl'), `${ex.name} has an eval split`);
  }
});

test('generated Python is syntactically valid (python -m py_compile)', (t) => {
  const python = requirePython(t);
  if (!python) return;
  for (const ex of examples) {
    const r: SpawnSyncReturns<string> = spawnSync(python, ['-m', 'py_compile', join(ex.outDir, 'train.py'), join(ex.outDir, 'ftc_data.py')], { env: pythonEnv(), encoding: 'utf8' });
    assert.equal(r.status, 0, `${ex.name}: ${r.stderr}`);
  }
});

test('requirements.txt pins the versions the interop tests run the job with (interop/requirements.txt)', () => {
  const pins = new Map(readFileSync(join(repoRoot(), 'interop', 'requirements.txt'), 'utf8').split('\n')
    .filter((l) => l.includes('==')).map((l) => l.trim().split('==') as [string, string]));
  for (const [name, version] of Object.entries({ ...TESTED_VERSIONS, bitsandbytes: TESTED_BITSANDBYTES })) assert.equal(version, pins.get(name), name);
});

// ftc_data.epoch_order against the trainer's own epochOrder: counts around the shuffle's edge cases,
// seeds beyond 2^31 (the unsigned arithmetic), several epochs.
const ORDER_HARNESS = String.raw`
import json, sys
sys.path.insert(0, ".")
from ftc_data import epoch_order
print(json.dumps([epoch_order(n, seed, epoch) for n, seed, epoch in json.load(sys.stdin)]))
`;

test("the job's example order is ftc's: ftc_data.epoch_order equals the trainer's epochOrder", (t) => {
  const python = requirePython(t);
  if (!python) return;
  const cases: [number, number, number][] = [[0, 1, 0], [1, 42, 0], [2, 42, 1], [7, 0, 3], [304, 42, 0], [304, 42, 1], [1000, 4294967295, 2], [97, 2147483648, 5]];
  const r = spawnSync(python, ['-c', ORDER_HARNESS], { cwd: examples[0]!.outDir, env: pythonEnv(), input: JSON.stringify(cases), encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const orders = JSON.parse(r.stdout) as number[][];
  cases.forEach(([n, seed, epoch], i) => assert.deepEqual(orders[i], [...epochOrder(n, seed, epoch)], `count ${n} seed ${seed} epoch ${epoch}`));
  assert.notDeepEqual(orders[4], orders[5], 'each epoch has its own order');
});

// Runs the job's own ftc_data.build_split with the TOKENIZATION and SPECIALS written in its train.py
// (literals, exec'd alone: train.py itself needs torch) and the job's tokenizer directory loaded by
// transformers' AutoTokenizer, as train.py loads it, on the job's exported rows.
const HARNESS = String.raw`
import json, re, sys
sys.path.insert(0, ".")
from ftc_data import build_split
from transformers import AutoTokenizer
source = open("train.py").read()
ns = {}
for name in ("TOKENIZATION", "SPECIALS"):
    exec(re.search(r"^%s = dict\(.*?^\)" % name, source, re.S | re.M).group(0), ns)
tokenizer = AutoTokenizer.from_pretrained("tokenizer")
out = {}
for split in ("train", "eval"):
    rows = [json.loads(line) for line in open("data/%s.jsonl" % split) if line.strip()]
    turns = [r["turns"] for r in rows] if rows and "turns" in rows[0] else None
    examples, counts = build_split(tokenizer, [r["prompt"] for r in rows], [r["response"] for r in rows], turns,
                                   specials=ns["SPECIALS"], **ns["TOKENIZATION"])
    out[split] = {"examples": examples, "settings": ns["TOKENIZATION"]}
json.dump(out, sys.stdout)
`;

test("the job's tokenization equals ftc's tokenized examples: template, chat turns, tricky rows, max length, BOS/EOS, masking, packing", (t) => {
  const python = requirePython(t);
  if (!python) return;
  for (const ex of examples) {
    const r: SpawnSyncReturns<string> = spawnSync(python, ['-c', HARNESS], { cwd: ex.outDir, env: pythonEnv(), encoding: 'utf8', maxBuffer: 1 << 28 });
    assert.equal(r.status, 0, r.stderr);
    const job = JSON.parse(r.stdout) as Record<string, { examples: { input_ids: number[]; labels: number[] }[]; settings: Record<string, unknown> }>;

    // ftc's own tokenizer artifact (the directory the exported tokenizer.json came from)
    const ftc = readTokenDataset(dirname(ex.exported.tokenizerFile));
    const tok = ex.ir.stages.find((s) => s.kind === 'tokenizer')!.params;
    assert.equal(job.train!.settings.max_length, ftc.meta.max_length, `${ex.name}: max_length`);
    assert.equal(job.train!.settings.packing, ftc.meta.packed, `${ex.name}: packing`);
    assert.equal(job.train!.settings.train_on_inputs, ftc.meta.train_on_inputs, `${ex.name}: train_on_inputs`);
    assert.equal(job.train!.settings.add_eos, tok.add_eos, `${ex.name}: add_eos`);
    assert.equal(job.train!.settings.add_bos, tok.add_bos, `${ex.name}: add_bos`);
    for (const split of ['train', 'eval'] as const) {
      const theirs = ftc.split(split);
      const ours = job[split]!.examples;
      assert.equal(ours.length, theirs.count, `${ex.name} ${split}: number of sequences`);
      ours.forEach((row, i) => {
        const e = theirs.example(i);
        assert.deepEqual(row.input_ids, [...e.ids], `${ex.name} ${split} #${i}: input_ids`);
        assert.deepEqual(row.labels, [...e.labels], `${ex.name} ${split} #${i}: labels`);
        assert.ok(row.input_ids.length <= ftc.meta.max_length);
      });
    }
    // The examples exercise what they are meant to: masked prompts; packing joins several examples.
    const first = ftc.split('train').example(0);
    assert.equal(first.labels[0], -100, `${ex.name}: the first token is never a target`);
    if (ftc.meta.packed) assert.ok(ftc.split('train').count < ex.exported.rows.train, `${ex.name}: packing put several examples in a row`);
    coverage.add(`${ex.name}:${ftc.meta.packed ? 'packed' : 'unpacked'}`);
    if ([...Array(ftc.split('train').count).keys()].some((i) => ftc.split('train').example(i).ids.length === ftc.meta.max_length)) coverage.add(`${ex.name}:full-row`);
  }
  // Truncated rows, packing with loss on prompt tokens and the tricky rows were all compared above.
  for (const c of ['alpaca-short:full-row', 'alpaca-short-packed:packed', 'alpaca-tricky:unpacked', 'chat-tricky:unpacked']) assert.ok(coverage.has(c), [...coverage].join(', '));
});
const coverage = new Set<string>();

test('ftc compile CLI: exit 1 naming a key with no equivalent; then writes the same job; refuses a foreign --out', () => {
  const pipeline = join(root, 'pipelines', 'alpaca-lora.ft');
  const out = join(root, 'jobs', 'cli');
  const env = { FTC_CACHE_DIR: join(root, 'cache') };
  const bad = runCli(['compile', pipeline, '--target', 'accelerate', '--out', out, '--set', 'pipeline.backend=wasm'], { env });
  assert.equal(bad.status, 1, bad.stderr);
  assert.match(bad.stderr, /error\[E0401\]: pipeline header: `backend = "wasm"` has no equivalent in --target accelerate/);
  assert.ok(!existsSync(out));
  for (let i = 0; i < 2; i++) { // the second run replaces the first job
    const ok = runCli(['compile', pipeline, '--target', 'accelerate', '--out', out], { env });
    assert.equal(ok.status, 0, ok.stderr);
  }
  const inProcess = examples.find((e) => e.name === 'alpaca-lora')!;
  for (const [rel, text] of inProcess.job.files) if (rel !== 'train.py' && rel !== 'README.md') assert.equal(readFileSync(join(out, rel), 'utf8'), text, rel);
  assert.equal(readFileSync(join(out, 'data', 'eval.jsonl'), 'utf8'), readFileSync(inProcess.exported.evalFile, 'utf8'));
  const foreign = join(root, 'pipelines');
  const refused = runCli(['compile', pipeline, '--target', 'accelerate', '--out', foreign], { env });
  assert.equal(refused.status === 0, false);
  assert.match(refused.stderr, /is not a job ftc compiled/);
});
