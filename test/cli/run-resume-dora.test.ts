import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { parseMetrics } from '../../src/runtime/train/metrics.js';
import { repoRoot, runCli, tempDir } from '../helpers.js';
import { initTinyModel, tinyPipeline, writeRows } from '../tiny-project.js';

/**
 * Exact resume of a DoRA + modules_to_save adapter through real processes: `ftc run` is SIGKILLed
 * once a checkpoint is on disk, `ftc run --resume` continues from it, and every logged loss, every
 * eval loss and the saved adapter equal those of a run that was never interrupted.
 */
const STEPS = 60;

function project(): string {
  const dir = tempDir('ftc-resume-dora-');
  writeRows(dir, Array.from({ length: 48 }, (_, i) => ({ instruction: `Add ${i % 7} and ${i % 5}`, input: '', output: `${(i % 7) + (i % 5)}` })));
  initTinyModel(dir);
  writeFileSync(join(dir, 'p.ft'), tinyPipeline({
    name: 'resume_dora',
    seed: 3,
    preprocess: { prompt: '"{instruction} ="', response: '" {output}"', eval_split: 0.25 },
    lora: { dropout: 0.1, target_modules: '[q_proj, v_proj, down_proj]', use_dora: 'true', modules_to_save: '[lm_head]' },
    trainer: { max_steps: STEPS, lr: '5e-3', log_every: 1, eval_every: 10, save_every: 5 },
  }));
  return dir;
}

const FLAGS = ['--backend', 'cpu', '--workers', '1'];
const env = (dir: string) => ({ ...process.env, CI: 'true', FTC_CACHE_DIR: join(dir, 'cache') });

function losses(dir: string): Array<[number, number | undefined, number | undefined]> {
  return parseMetrics(readFileSync(join(dir, 'out', 'metrics.jsonl'), 'utf8')).map((m) => [m.step, m.loss, m.eval_loss]);
}

const sha = (file: string) => createHash('sha256').update(readFileSync(file)).digest('hex');

test('use_dora + modules_to_save: killed after a checkpoint and run again with --resume, the same losses and the same adapter', { timeout: 300_000 }, async () => {
  const whole = project();
  const ref = runCli(['run', 'p.ft', ...FLAGS], { cwd: whole, env: env(whole) });
  assert.equal(ref.status, 0, ref.stderr);
  const expected = losses(whole);
  assert.equal(expected.filter(([, loss]) => loss !== undefined).length, STEPS);

  // The same project, killed as soon as a complete checkpoint exists.
  const dir = project();
  const child = spawn(process.execPath, [join(repoRoot(), 'dist/src/cli/main.js'), 'run', 'p.ft', ...FLAGS], { cwd: dir, env: env(dir), stdio: 'ignore' });
  const exited = new Promise<NodeJS.Signals | null>((res) => child.on('close', (_code, signal) => res(signal)));
  const checkpoints = join(dir, 'out', 'checkpoints');
  const complete = () => existsSync(checkpoints) && readdirSync(checkpoints).some((d) => /^step-\d+$/.test(d) && existsSync(join(checkpoints, d, 'trainer_state.json')));
  while (child.exitCode === null && !complete()) await new Promise((r) => setTimeout(r, 5));
  child.kill('SIGKILL');
  assert.equal(await exited, 'SIGKILL', 'the run finished before it could be killed; raise STEPS');
  const saved = readdirSync(checkpoints).filter((d) => /^step-\d+$/.test(d)).map((d) => Number(d.slice(5)));
  assert.ok(saved.length > 0 && Math.max(...saved) < STEPS, `checkpoints at ${saved}`);
  // The checkpoint holds DoRA's magnitudes and the whole lm_head, under PEFT's names.
  const header = readFileSync(join(checkpoints, `step-${Math.max(...saved)}`, 'adapter_model.safetensors'));
  const names = header.subarray(8, 8 + Number(header.readBigUInt64LE(0))).toString('utf8');
  assert.match(names, /"base_model\.model\.model\.layers\.0\.mlp\.down_proj\.lora_magnitude_vector"/);
  assert.match(names, /"base_model\.model\.lm_head\.weight"/);

  const resumed = runCli(['run', 'p.ft', '--resume', ...FLAGS], { cwd: dir, env: env(dir) });
  assert.equal(resumed.status, 0, resumed.stderr);
  const from = /resuming from checkpoint step (\d+)/.exec(resumed.stdout + resumed.stderr);
  assert.ok(from && Number(from[1]) > 0 && Number(from[1]) < STEPS, resumed.stdout + resumed.stderr);
  assert.deepEqual(losses(dir), expected);
  assert.equal(sha(join(dir, 'out', 'adapter_model.safetensors')), sha(join(whole, 'out', 'adapter_model.safetensors')));
});
