import type { MetricsRecord } from './metrics.js';
import { escapeXml, lossCurveSvg } from './plot.js';

/** Everything the one-page HTML report shows about a finished run. */
export interface RunReport {
  pipeline: string;
  stage: string;
  backend: string;
  /** The trainer's resolved parameters, shown as a table. */
  config: Record<string, unknown>;
  /** The LoRA settings and model facts, shown as a second table. */
  model: Record<string, unknown>;
  records: MetricsRecord[];
  /** Seconds: total wall time and time spent evaluating. */
  timings: Record<string, number>;
  stopReason: string;
  warnings: string[];
}

export function reportHtml(r: RunReport): string {
  const lastTrain = [...r.records].reverse().find((m) => m.loss !== undefined);
  const lastEval = [...r.records].reverse().find((m) => m.eval_loss !== undefined);
  const bestEval = r.records.filter((m) => m.eval_loss !== undefined).sort((a, b) => a.eval_loss! - b.eval_loss!)[0];
  const final: Record<string, unknown> = {
    steps: lastTrain?.step ?? 0,
    epoch: lastTrain?.epoch,
    'final train loss': lastTrain?.loss,
    'final eval loss': lastEval?.eval_loss,
    'final eval perplexity': lastEval?.eval_ppl,
    'best eval loss': bestEval ? `${fmt(bestEval.eval_loss)} (step ${bestEval.step})` : undefined,
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
</style>
</head>
<body>
<h1>${escapeXml(title)}</h1>
<p>Backend: <b>${escapeXml(r.backend)}</b></p>
${r.warnings.map((w) => `<p class="warn">warning: ${escapeXml(w)}</p>`).join('\n')}
<h2>Result</h2>
${table(final)}
${lossCurveSvg(r.records, 'Train and eval loss')}
<div class="grid">
<div><h2>Trainer</h2>
${table(r.config)}</div>
<div><h2>Model and adapter</h2>
${table(r.model)}</div>
<div><h2>Timings (s)</h2>
${table(r.timings)}</div>
</div>
</body>
</html>
`;
}

function table(rows: Record<string, unknown>): string {
  const body = Object.entries(rows)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => `<tr><th>${escapeXml(k)}</th><td>${escapeXml(fmt(v))}</td></tr>`)
    .join('\n');
  return `<table>\n${body}\n</table>`;
}

function fmt(v: unknown): string {
  if (typeof v === 'number') return Number.isInteger(v) ? String(v) : v.toPrecision(5);
  if (Array.isArray(v)) return v.join(', ');
  if (v !== null && typeof v === 'object') return JSON.stringify(v);
  return String(v);
}
