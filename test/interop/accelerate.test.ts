/**
 * The job `ftc compile --target accelerate` writes, run by the real packages (interop/requirements.txt):
 * the Alpaca example trained by `accelerate launch` on 2 CPU processes (DDP over gloo) trains what
 * `ftc run` trains, and the chat QLoRA example builds its config objects.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, test } from 'node:test';
import { repoRoot, runCli, tempDir } from '../helpers.js';
import { pythonEnv, requirePython, runPython } from './env.js';

let root = '';
let env: NodeJS.ProcessEnv = {};
before(() => {
  root = tempDir('ftc-accelerate-interop-');
  env = { FTC_CACHE_DIR: join(root, 'cache') };
  mkdirSync(join(root, 'pipelines'));
  mkdirSync(join(root, 'data'));
  for (const p of ['alpaca-lora.ft', 'chat-qlora.ft']) copyFileSync(join(repoRoot(), 'pipelines', p), join(root, 'pipelines', p));
  for (const d of ['alpaca_sample.json', 'chat_sample.jsonl', 'chat_tokenizer_config.json']) copyFileSync(join(repoRoot(), 'data', d), join(root, 'data', d));
  const init = runCli(['init-model', join(root, 'models', 'tiny-llama')]);
  assert.equal(init.status, 0, init.stderr);
});

function ftc(args: string[]): string {
  const r = runCli(args, { env });
  assert.equal(r.status, 0, `ftc ${args.join(' ')}:\n${r.stderr}`);
  return r.stdout;
}

const set = (overrides: string[]) => overrides.flatMap((o) => ['--set', o]);

interface LogLine { step: number; loss?: number; grad_norm?: number; learning_rate?: number; lr?: number; epoch?: number }
const trainLogs = (file: string): LogLine[] =>
  readFileSync(file, 'utf8').split('\n').filter((l) => l.trim()).map((l) => JSON.parse(l) as LogLine).filter((r) => r.loss !== undefined);

const score = (adapter: string, text: string): number =>
  (JSON.parse(ftc(['score', '--model', join(root, 'models', 'tiny-llama'), '--adapter', adapter, '--text', text, '--format', 'json'])) as { loss: number }).loss;

// fp32: the comparison is exact only without autocast (and fp16 autocast wants a GPU). Dropout 0: torch's
// dropout masks are not ftc's. A large lr and weight decay so the updates move the loss visibly, and a
// max_grad_norm below the norms (~0.55) so that clipping takes part. 8 training
// rows, so that the 4 steps of 2 processes × 2 rows span two epochs: the second epoch's order is checked too.
const STEPS = 4;
const PROCESSES = 2;
const ROWS = 8;
const COMMON = [`raw.limit=${ROWS}`, 'prompts.eval_split=0', 'sft.precision=fp32', 'adapter.dropout=0', 'sft.log_every=1', 'sft.batch_size=2', 'sft.lr=5e-3', 'sft.weight_decay=0.1', 'sft.max_grad_norm=0.5'];

test('the compiled alpaca-lora job runs on 2 CPU processes (DDP over gloo), logs the losses ftc logs for the same steps, and writes an adapter ftc scores', (t) => {
  const python = requirePython(t);
  if (!python) return;
  const pipeline = join(root, 'pipelines', 'alpaca-lora.ft');

  // ftc's initial adapter: one step whose lr is 0 (the first warmup step) leaves the init as it was.
  ftc(['run', pipeline, ...set([...COMMON, 'sft.max_steps=1', 'sft.warmup_steps=1', 'sft.output="../init-adapter"'])]);
  // ftc's run to compare with: the job's step on 2 processes of batch 2 is ftc's step of 2 micro-batches of 2
  // (accelerate deals consecutive batches of the sampler's order to the processes in turn).
  ftc(['run', pipeline, ...set([...COMMON, `sft.max_steps=${STEPS}`, `sft.grad_accum=${PROCESSES}`, 'sft.output="../ftc-adapter"'])]);
  const job = join(root, 'jobs', 'alpaca');
  ftc(['compile', pipeline, '--target', 'accelerate', '--out', job, ...set([...COMMON, `sft.max_steps=${STEPS}`])]);

  const out = join(root, 'job-adapter');
  const launch = spawnSync(
    python,
    ['-m', 'accelerate.commands.launch', '--config_file', 'accelerate.yaml', '--multi_gpu', '--num_processes', String(PROCESSES), '--main_process_port', '0',
      'train.py', '--output', out, '--init-adapter', join(root, 'init-adapter')],
    { cwd: job, env: pythonEnv({ ACCELERATE_USE_CPU: 'true' }), encoding: 'utf8', timeout: 300_000 },
  );
  assert.equal(launch.status, 0, `accelerate launch exited ${launch.status}:\n${launch.stderr.slice(-4000)}`);

  const theirs = trainLogs(join(out, 'metrics.jsonl'));
  const ours = trainLogs(join(root, 'ftc-adapter', 'metrics.jsonl'));
  assert.deepEqual(theirs.map((r) => r.step), [1, 2, 3, 4]);
  assert.deepEqual(ours.map((r) => r.step), [1, 2, 3, 4]);
  // HF's epoch after a step counts batches per process: 0.5 after step 1 proves each step took 2 × 2 of the 8 rows.
  assert.equal(readFileSync(join(job, 'data', 'train.jsonl'), 'utf8').split('\n').filter((l) => l.trim()).length, ROWS);
  assert.deepEqual(theirs.map((r) => r.epoch), [0.5, 1, 1.5, 2]);
  // The issue asks for 1e-3; here a different A init alone moves the losses by ~5e-4, so the bound is tighter.
  theirs.forEach((r, i) => {
    const o = ours[i]!;
    assert.ok(Math.abs(r.loss! - o.loss!) < 2e-5, `step ${r.step}: job loss ${r.loss}, ftc ${o.loss}`);
    assert.ok(Math.abs(r.grad_norm! - o.grad_norm!) < 1e-4 * o.grad_norm!, `step ${r.step}: job grad_norm ${r.grad_norm}, ftc ${o.grad_norm}`);
    assert.ok(Math.abs(r.learning_rate! - o.lr!) < 1e-12, `step ${r.step}: job lr ${r.learning_rate}, ftc ${o.lr}`);
  });
  assert.ok(ours.some((r) => Math.abs(r.loss! - ours[0]!.loss!) > 1e-3), 'the updates move the loss');
  assert.ok(ours.every((r) => r.grad_norm! > 0.5), 'every step was clipped');

  // The job's adapter loads in ftc and scores as ftc's own after the same steps (and not as the init).
  const text = 'Give three tips for staying healthy.';
  const job4 = score(out, text);
  assert.ok(Math.abs(job4 - score(join(root, 'ftc-adapter'), text)) < 1e-4, `job adapter scores ${job4}`);
  assert.ok(Math.abs(job4 - score(join(root, 'init-adapter'), text)) > 1e-3, 'the job trained its adapter');
});

test('the chat QLoRA example compiles; its train.py imports and builds BitsAndBytesConfig, LoraConfig and TrainingArguments on CPU', (t) => {
  const python = requirePython(t);
  if (!python) return;
  const job = join(root, 'jobs', 'chat-qlora');
  ftc(['compile', join(root, 'pipelines', 'chat-qlora.ft'), '--target', 'accelerate', '--out', job]);
  const got = runPython<Record<string, unknown>>(python, 'accelerate_configs.py', { job, output: join(root, 'chat-out') }, { env: { ACCELERATE_USE_CPU: 'true' } });
  // Expected values from pipelines/chat-qlora.ft, read by hand.
  assert.deepEqual(got, {
    lora: { is_lora_config: true, r: 16, lora_alpha: 16, target_modules: 'all-linear', lora_dropout: 0.05, task_type: 'CAUSAL_LM' },
    args: {
      is_training_arguments: true,
      per_device_train_batch_size: 2,
      gradient_accumulation_steps: 4,
      num_train_epochs: 2,
      learning_rate: 1e-4,
      lr_scheduler_type: 'cosine',
      warmup_steps: 0.1, // transformers 5: a warmup_steps below 1 is the ratio
      bf16: true,
      fp16: false,
      eval_strategy: 'steps',
      eval_steps: 2,
      save_steps: 2, // early stopping saves on the eval schedule
      load_best_model_at_end: true,
      metric_for_best_model: 'eval_loss',
      seed: 7,
      use_cpu: true,
    },
    quantization: { is_bnb_config: true, load_in_4bit: true, bnb_4bit_quant_type: 'nf4', bnb_4bit_compute_dtype: 'torch.bfloat16', bnb_4bit_use_double_quant: true },
    data_seed: 7,
    early_stopping_patience: 3,
    strategy: 'deepspeed-zero2',
  });
});
