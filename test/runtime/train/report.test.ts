import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { MetricsLog, parseMetrics } from '../../../src/runtime/train/metrics.js';
import { lossCurveSvg } from '../../../src/runtime/train/plot.js';
import { reportHtml, visibleText } from '../../../src/runtime/train/report.js';
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

test('the loss curve maps steps and losses onto the plot area, the y-axis from 0', () => {
  const svg = lossCurveSvg(RECORDS, 'run <1>');
  // x: step 0..20 → 60..620 (width 640, margins 60/20). y: losses up to 3 → ticks of 1 (the 1-2-2.5-5 step
  // above 3/4), axis 0..4 → 315..30 (height 360, margins 30/45), so y(v) = 315 − v·285/4.
  // train: (10, 2.5) → (340, 136.875), (20, 2) → (620, 172.5); eval: (0, 3) → (60, 101.25), (20, 1) → (620, 243.75).
  assert.ok(svg.includes('<path class="train" d="M340.0,136.9 L620.0,172.5"'), svg);
  assert.ok(svg.includes('<path class="eval" d="M60.0,101.3 L620.0,243.8"'), svg);
  for (const t of ['0', '1', '2', '3', '4']) assert.ok(svg.includes(`text-anchor="end">${t}</text>`), `y tick ${t}`);
  assert.ok(svg.includes('run &lt;1&gt;'), 'the title is escaped');
  assert.doesNotMatch(svg, /class="chance"/, 'no chance line without a vocabulary');
  assert.match(lossCurveSvg([]), /no losses recorded/);
});

test('chance level ln(vocab) is a dashed line, and the axis reaches it when it lies above every loss', () => {
  // ln 16 = 2.7726 lies within the data's axis 0..4: y = 315 − 2.7726·285/4 = 117.45.
  assert.ok(lossCurveSvg(RECORDS, 't', { chance: Math.log(16) }).includes('<line class="chance" x1="60" y1="117.5" x2="620" y2="117.5"'));
  // ln 512 = 6.238 above every loss: ticks of 2 (above 6.238/4), axis 0..8, the line at 315 − 6.238·285/8 = 92.76.
  const svg = lossCurveSvg(RECORDS, 't', { chance: Math.log(512) });
  assert.ok(svg.includes('<line class="chance" x1="60" y1="92.8" x2="620" y2="92.8"'), svg);
  for (const t of ['0', '2', '4', '6', '8']) assert.ok(svg.includes(`text-anchor="end">${t}</text>`), `y tick ${t}`);
  assert.match(svg, /chance: ln\(vocab\) = 6\.238/);
});

const REPORT = {
  pipeline: 'p', stage: 'sft', ran: { backend: 'cpu (pure JS)', workers: '2 data-parallel threads', precision: 'fp32 (the pipeline asks for fp16, which TensorFlow.js does not have)' },
  config: { lr: 2e-4, batch_size: 4 }, model: { r: 8, target_modules: ['q_proj', 'v_proj'] }, vocabSize: 16,
  timings: { total: 12.5 }, stopReason: 'completed 20 steps', warnings: ['precision fp16 ... fp32 instead'],
};

test('the report holds the final metrics, what ran, the plot with chance level, each evaluation and the timings', () => {
  const records = [
    { ...RECORDS[0]!, eval_examples: 6, eval_seconds: 0.25 },
    RECORDS[1]!,
    RECORDS[2]!,
    { ...RECORDS[3]!, eval_examples: 6, eval_seconds: 0.5 },
  ];
  const html = reportHtml({ ...REPORT, records });
  assert.match(html, /<th>final eval loss<\/th><td>1<\/td>/);
  assert.match(html, /<th>best eval loss<\/th><td>1 \(step 20\)<\/td>/);
  assert.match(html, /<th>final train loss<\/th><td>2<\/td>/);
  assert.match(html, /<th>first train loss<\/th><td>2.5000<\/td>/);
  assert.match(html, /workers: <b>2 data-parallel threads<\/b> · precision: <b>fp32 \(the pipeline asks for fp16/);
  assert.match(html, /<th>target_modules<\/th><td>q_proj, v_proj<\/td>/);
  // ln 16 = 2.7726; the final eval loss 1 is 1.7726 below it.
  assert.match(html, /<th>chance level<\/th><td>2.7726 \(ln 16: a uniform guess over the vocabulary\)<\/td>/);
  assert.match(html, /Final eval loss 1: 1.7726 below chance level 2.7726 \(the first logged train loss was 2.5000\)\./);
  assert.match(html, /class="chance"/);
  assert.match(html, /<tr><td>0<\/td><td>0<\/td><td>3<\/td><td>20.086<\/td><td>6<\/td><td>0.25<\/td><\/tr>/);
  assert.match(html, /<tr><td>20<\/td><td>1<\/td><td>1<\/td><td>2.7183<\/td><td>6<\/td><td>0.50<\/td><\/tr>/);
  assert.ok(html.includes('<svg') && html.includes('<th>total</th><td>12.500</td>') && html.includes('warning: precision fp16'));
});

test('a final loss at or above chance level is called what it is', () => {
  const html = reportHtml({ ...REPORT, vocabSize: 2, records: RECORDS.slice(1, 3) });
  // ln 2 = 0.69315; the final train loss 2 is 1.3069 above it.
  assert.match(html, /Final train loss 2: 1.3069 above chance level 0.69315: the model predicts no better than a uniform guess/);
  assert.match(html, /No evaluation ran/);
});

test('held-out answers are a four-column table; empty answers, newlines and control characters are made visible, markup escaped', () => {
  assert.equal(visibleText(''), '(no text)');
  assert.equal(visibleText('a\nb'), 'a⏎\nb');
  assert.equal(visibleText('x\u000f\r\ty'), 'x\\u000f\\u000d\\u0009y');
  const html = reportHtml({
    pipeline: 'p', stage: 's', ran: { backend: 'cpu', workers: '1', precision: 'fp32' }, config: {}, model: {}, records: [],
    answers: [{ prompt: 'Q: <b>?\nA:', reference: ' yes', base: '', tuned: ' yes\n' }], timings: { total: 1 }, stopReason: 'done', warnings: [],
  });
  assert.ok(html.includes('<table class="answers">\n<tr><th>prompt</th><th>reference</th><th>base model</th><th>tuned model</th></tr>\n'
    + '<tr><td>Q: &lt;b&gt;?⏎\nA:</td><td> yes</td><td>(no text)</td><td> yes⏎\n</td></tr>\n</table>'), html);
  assert.doesNotMatch(reportHtml({ pipeline: 'p', stage: 's', ran: { backend: 'cpu', workers: '1', precision: 'fp32' }, config: {}, model: {}, records: [],
    timings: { total: 1 }, stopReason: 'done', warnings: [] }), /class="answers"/);
});
