import type { HeldOutAnswer } from './held-out-answers.js';
import type { MetricsRecord } from './metrics.js';
import { escapeXml, lossCurveSvg } from './plot.js';

/** Everything the one-page HTML report shows about a finished run. */
export interface RunReport {
  pipeline: string;
  stage: string;
  /** What actually ran, each in words: backend, data-parallel workers, compute precision. */
  ran: { backend: string; workers: string; precision: string };
  /** The trainer's resolved parameters under the pipeline's key names, shown as a table. */
  config: Record<string, unknown>;
  /** The LoRA settings (pipeline key names) and model facts, shown as a second table. */
  model: Record<string, unknown>;
  /** The model's vocabulary size: ln(vocab) is the loss of a uniform guess, drawn as the chance line. */
  vocabSize?: number;
  records: MetricsRecord[];
  /** eval_generate: held-out prompts with the reference, base and tuned greedy answers. */
  answers?: HeldOutAnswer[];
  /** Wall seconds: `total` and the disjoint parts it is made of. */
  timings: Record<string, number>;
  stopReason: string;
  warnings: string[];
}

export function reportHtml(r: RunReport): string {
  const trains = r.records.filter((m) => m.loss !== undefined);
  const evals = r.records.filter((m) => m.eval_loss !== undefined);
  const lastTrain = trains.at(-1);
  const lastEval = evals.at(-1);
  const bestEval = [...evals].sort((a, b) => a.eval_loss! - b.eval_loss!)[0];
  const chance = r.vocabSize !== undefined && r.vocabSize > 1 ? Math.log(r.vocabSize) : undefined;
  const final: Record<string, unknown> = {
    steps: lastTrain?.step ?? 0,
    epoch: lastTrain?.epoch,
    'first train loss': trains[0]?.loss,
    'final train loss': lastTrain?.loss,
    'final eval loss': lastEval?.eval_loss,
    'final eval perplexity': lastEval?.eval_ppl,
    'best eval loss': bestEval ? `${fmt(bestEval.eval_loss)} (step ${bestEval.step})` : undefined,
    'chance level': chance !== undefined ? `${fmt(chance)} (ln ${r.vocabSize}: a uniform guess over the vocabulary)` : undefined,
    'stopped because': r.stopReason,
  };
  const title = `${r.pipeline} · ${r.stage}`;
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>${escapeXml(title)} — ftc training report</title>
<style>
  body { font-family: sans-serif; max-width: 980px; margin: 2em auto; color: #222; }
  table { border-collapse: collapse; margin-bottom: 1.5em; }
  td, th { border: 1px solid #ccc; padding: 3px 10px; text-align: left; font-size: 13px; }
  th { background: #f4f4f4; }
  .grid { display: flex; gap: 2em; flex-wrap: wrap; }
  .warn { color: #a60; }
  table.answers td { white-space: pre-wrap; vertical-align: top; font-family: monospace; max-width: 240px; }
</style>
</head>
<body>
<h1>${escapeXml(title)}</h1>
<p>Backend: <b>${escapeXml(r.ran.backend)}</b> · workers: <b>${escapeXml(r.ran.workers)}</b> · precision: <b>${escapeXml(r.ran.precision)}</b></p>
${r.warnings.map((w) => `<p class="warn">warning: ${escapeXml(w)}</p>`).join('\n')}
<h2>Result</h2>
${table(final, 'result')}
${verdict(trains[0]?.loss, lastEval ? ['eval', lastEval.eval_loss!] : lastTrain ? ['train', lastTrain.loss!] : undefined, chance)}
${lossCurveSvg(r.records, 'Train and eval loss', { chance })}
<h2>Evaluations</h2>
${evals.length > 0 ? evalTable(evals) : '<p>No evaluation ran (no eval split).</p>'}
${r.answers && r.answers.length > 0 ? answersTable(r.answers) : ''}
<div class="grid">
<div><h2>Trainer</h2>
${table(r.config, 'trainer')}</div>
<div><h2>Model and adapter</h2>
${table(r.model, 'model')}</div>
<div><h2>Timings (s)</h2>
${table(Object.fromEntries(Object.entries(r.timings).map(([k, v]) => [k, v.toFixed(3)])), 'timings')}
<p class="note">Wall seconds of the trainer stage's run. The stage's line in <code>ftc run</code> also counts<br>
loading the trainer's code (TensorFlow.js), once per process.</p></div>
</div>
</body>
</html>
`;
}

/** One sentence that puts the final loss next to chance, so a flat curve on a random model is read as such. */
function verdict(first: number | undefined, final: [kind: string, loss: number] | undefined, chance: number | undefined): string {
  if (final === undefined || chance === undefined) return '';
  const [kind, last] = final;
  const below = chance - last;
  const from = first !== undefined ? ` (the first logged train loss was ${fmt(first)})` : '';
  const words = below > 0
    ? `${fmt(below)} below chance level ${fmt(chance)}${from}`
    : `${fmt(-below)} above chance level ${fmt(chance)}: the model predicts no better than a uniform guess${from}`;
  return `<p class="verdict">Final ${kind} loss ${fmt(last)}: ${escapeXml(words)}.</p>`;
}

function evalTable(evals: MetricsRecord[]): string {
  const rows = evals.map((e) => `<tr><td>${e.step}</td><td>${fmt(e.epoch)}</td><td>${fmt(e.eval_loss)}</td><td>${fmt(e.eval_ppl)}</td>`
    + `<td>${e.eval_examples ?? ''}</td><td>${e.eval_seconds !== undefined ? e.eval_seconds.toFixed(2) : ''}</td></tr>`);
  return `<table class="evals">\n<tr><th>step</th><th>epoch</th><th>eval loss</th><th>eval perplexity</th><th>examples</th><th>seconds</th></tr>\n${rows.join('\n')}\n</table>`;
}

/** The side-by-side answers: what the model said to a held-out prompt before and after training. */
function answersTable(answers: HeldOutAnswer[]): string {
  const cell = (s: string) => `<td>${escapeXml(visibleText(s))}</td>`;
  const rows = answers.map((a) => `<tr>${cell(a.prompt)}${cell(a.reference)}${cell(a.base)}${cell(a.tuned)}</tr>`);
  return `<h2>Answers to held-out prompts (greedy)</h2>
<p class="note">Eval-split prompts the model never trained on, in the pipeline's prompt template; the reference is the held-out answer.
The base model's answer was generated before the first update, the tuned model's after the last.</p>
<table class="answers">
<tr><th>prompt</th><th>reference</th><th>base model</th><th>tuned model</th></tr>
${rows.join('\n')}
</table>`;
}

/**
 * A prompt or answer as a table cell shows it: an untrained model's answer is often only newlines or
 * control characters, which a page would show as nothing. Newlines are marked (⏎) and kept, other
 * control characters written as \uXXXX escapes, and an empty text said to be empty.
 */
export function visibleText(s: string): string {
  if (s === '') return '(no text)';
  return s.replace(/[\u0000-\u0009\u000b-\u001f\u007f]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`).replace(/\n/g, '⏎\n');
}

function table(rows: Record<string, unknown>, name: string): string {
  const body = Object.entries(rows)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => `<tr><th>${escapeXml(k)}</th><td>${escapeXml(fmt(v))}</td></tr>`)
    .join('\n');
  return `<table class="${name}">\n${body}\n</table>`;
}

function fmt(v: unknown): string {
  if (typeof v === 'number') return Number.isInteger(v) ? String(v) : v.toPrecision(5);
  if (Array.isArray(v)) return v.join(', ');
  if (v !== null && typeof v === 'object') return JSON.stringify(v);
  return String(v);
}
