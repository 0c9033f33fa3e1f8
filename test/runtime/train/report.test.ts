import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { MetricsLog, parseMetrics } from '../../../src/runtime/train/metrics.js';
import { lossCurveSvg } from '../../../src/runtime/train/plot.js';
import { reportHtml } from '../../../src/runtime/train/report.js';
import { tempDir } from '../../helpers.js';

const RECORDS = [
  { step: 0, epoch: 0, eval_loss: 3, eval_ppl: Math.exp(3) },
  { step: 10, epoch: 0.5, loss: 2.5, lr: 1e-4, grad_norm: 1, tokens_per_s: 100 },
  { step: 20, epoch: 1, loss: 2, lr: 5e-5, grad_norm: 0.5, tokens_per_s: 110 },
  { step: 20, epoch: 1, eval_loss: 1, eval_ppl: Math.exp(1) },
];

test('metrics are JSON lines that parse back; reset rewrites the file with the resumed history', () => {
  const file = join(tempDir(), 'metrics.jsonl');
  const log = new MetricsLog(file);
  log.reset([]);
  RECORDS.forEach((r) => log.add(r));
  assert.deepEqual(parseMetrics(readFileSync(file, 'utf8')), RECORDS);
  assert.deepEqual(log.trainLosses(), [2.5, 2]);
  assert.deepEqual(log.evalLosses(), [3, 1]);
  log.reset(RECORDS.slice(0, 2));
  assert.deepEqual(parseMetrics(readFileSync(file, 'utf8')), RECORDS.slice(0, 2));
});

test('the loss curve maps steps and losses onto the plot area', () => {
  const svg = lossCurveSvg(RECORDS, 'run <1>');
  // x: step 0..20 → 60..620 (width 640, margins 60/20); y: loss 1..3 → 315..30 (height 360, margins 30/45).
  // train: (10, 2.5) → (340, 315 − 0.75·285 = 101.25), (20, 2) → (620, 172.5); eval: (0, 3) → (60, 30), (20, 1) → (620, 315).
  assert.ok(svg.includes('<path class="train" d="M340.0,101.3 L620.0,172.5"'), svg);
  assert.ok(svg.includes('<path class="eval" d="M60.0,30.0 L620.0,315.0"'));
  assert.ok(svg.includes('run &lt;1&gt;'), 'the title is escaped');
  assert.match(lossCurveSvg([]), /no losses recorded/);
});

test('the report holds the final metrics, the plot inline and the timings', () => {
  const html = reportHtml({
    pipeline: 'p', stage: 'sft', backend: 'cpu', config: { lr: 2e-4, batch_size: 4 }, model: { r: 8 },
    records: RECORDS, timings: { total: 12.5 }, stopReason: 'completed 20 steps', warnings: ['precision fp16 ... fp32 instead'],
  });
  assert.match(html, /<th>final eval loss<\/th><td>1<\/td>/);
  assert.match(html, /<th>best eval loss<\/th><td>1 \(step 20\)<\/td>/);
  assert.match(html, /<th>final train loss<\/th><td>2<\/td>/);
  assert.ok(html.includes('<svg') && html.includes('<th>total</th><td>12.500</td>') && html.includes('warning: precision fp16'));
});
