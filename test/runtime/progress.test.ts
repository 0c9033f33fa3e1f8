import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ConsoleLogger, formatDuration, isInteractive, renderBar } from '../../src/runtime/progress.js';

function sink(isTTY: boolean) {
  const writes: string[] = [];
  return { writes, stream: { isTTY, columns: 100, write: (s: string) => (writes.push(s), true) } };
}

test('a progress bar shows step/total, fields and an ETA from the elapsed rate', () => {
  // 25 of 100 steps in 10 s: 75 steps left at 0.4 s each = 30 s.
  assert.equal(renderBar('sft train', 25, 100, { loss: 2.3456789, lr: 0.0002 }, 10_000, 200), 'sft train [#####...............] 25/100 loss=2.346 lr=0.0002000 ETA 30.0s');
  assert.equal(renderBar('tok', 7, undefined, {}, 1500, 200), 'tok 7 1.5s');
  assert.equal(renderBar('x', 1, 2, {}, 0, 10).length, 9);
  assert.deepEqual([formatDuration(250), formatDuration(61_000), formatDuration(3_723_000)], ['250ms', '1m01s', '1h02m03s']);
});

test('progress draws on a TTY, at most every 100 ms but always the last step', () => {
  const { writes, stream } = sink(true);
  let now = 0;
  const p = new ConsoleLogger('tok', { stream, interactive: true, now: () => now }).progress('encode', 3);
  p.update(1);
  now = 50;
  p.update(2);
  now = 60;
  p.update(3);
  p.done();
  assert.equal(writes.length, 3);
  assert.match(writes[0], /^\r\x1b\[2Ktok encode \[#######.............\] 1\/3 ETA/);
  assert.match(writes[1], /3\/3/);
  assert.equal(writes[2], '\r\x1b[2K');
});

test('progress is silent when not a TTY or when CI is set; info and warnings always print', () => {
  const { writes, stream } = sink(false);
  const log = new ConsoleLogger('raw', { stream });
  const p = log.progress('read', 10);
  p.update(10);
  p.done();
  log.info('read 10 rows');
  log.warn('2 rows skipped');
  assert.deepEqual(writes, ['  raw: read 10 rows\n', 'warning: raw: 2 rows skipped\n']);
  const saved = process.env.CI;
  process.env.CI = 'true';
  assert.equal(isInteractive({ isTTY: true }), false);
  process.env.CI = 'false';
  assert.equal(isInteractive({ isTTY: true }), true);
  if (saved === undefined) delete process.env.CI;
  else process.env.CI = saved;
});

test('on a TTY an info line erases the bar first, so the two never share a line', () => {
  const { writes, stream } = sink(true);
  const log = new ConsoleLogger('sft', { stream, interactive: true, now: () => 0 });
  log.progress('train', 10).update(1);
  log.info('step 10: loss 2.0000');
  assert.equal(writes[1], '\r\x1b[2K  sft: step 10: loss 2.0000\n');
});

test('info and warnings quoting user data print its control characters escaped, never raw', () => {
  const { writes, stream } = sink(false);
  const log = new ConsoleLogger('raw', { stream });
  log.warn('skipped row 3: "\x1b]0;pwned\x07" is not a number');
  log.info('read \u202eevil');
  assert.deepEqual(writes, ['warning: raw: skipped row 3: "\\x1b]0;pwned\\x07" is not a number\n', '  raw: read \\u202eevil\n']);
});
