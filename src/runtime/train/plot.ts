import type { MetricsRecord } from './metrics.js';

/**
 * The loss curve as a self-contained SVG, drawn by hand: train loss (blue line) and eval loss
 * (orange line with dots) against the optimizer step, with axes, ticks and labels. The y-axis starts
 * at 0 (a perfect prediction) and reaches past chance level ln(vocab), drawn as a dashed grey line:
 * an axis fitted to the data would draw 6.27 → 6.17 on a random model as a steep drop.
 */

const W = 640;
const H = 360;
const M = { left: 60, right: 20, top: 30, bottom: 45 };

type Point = [step: number, loss: number];

export function lossCurveSvg(records: MetricsRecord[], title = 'Loss', opts: { chance?: number } = {}): string {
  const train: Point[] = records.filter((r) => isFinite(r.loss ?? NaN)).map((r) => [r.step, r.loss!]);
  const evals: Point[] = records.filter((r) => isFinite(r.eval_loss ?? NaN)).map((r) => [r.step, r.eval_loss!]);
  const all = [...train, ...evals];
  const parts: string[] = [];
  parts.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`);
  parts.push(`<rect width="${W}" height="${H}" fill="white"/>`);
  parts.push(`<text x="${W / 2}" y="18" text-anchor="middle" font-size="14">${escapeXml(title)}</text>`);
  if (all.length === 0) {
    parts.push(`<text x="${W / 2}" y="${H / 2}" text-anchor="middle">no losses recorded</text></svg>`);
    return parts.join('\n');
  }

  const [xMin, xMax] = padRange(Math.min(...all.map((p) => p[0])), Math.max(...all.map((p) => p[0])));
  const yMin = Math.min(0, ...all.map((p) => p[1]));
  const yTop = Math.max(...all.map((p) => p[1]), opts.chance ?? -Infinity);
  const yStep = niceStep((yTop - yMin) / 4);
  const yMax = yMin + 4 * yStep;
  const x = (v: number) => M.left + ((v - xMin) / (xMax - xMin)) * (W - M.left - M.right);
  const y = (v: number) => H - M.bottom - ((v - yMin) / (yMax - yMin)) * (H - M.top - M.bottom);

  // Axes with five ticks each.
  const x0 = M.left;
  const y0 = H - M.bottom;
  parts.push(`<line x1="${x0}" y1="${y0}" x2="${W - M.right}" y2="${y0}" stroke="black"/>`);
  parts.push(`<line x1="${x0}" y1="${M.top}" x2="${x0}" y2="${y0}" stroke="black"/>`);
  for (let i = 0; i <= 4; i++) {
    const xv = xMin + ((xMax - xMin) * i) / 4;
    parts.push(`<line x1="${f(x(xv))}" y1="${y0}" x2="${f(x(xv))}" y2="${y0 + 5}" stroke="black"/>`);
    parts.push(`<text x="${f(x(xv))}" y="${y0 + 18}" text-anchor="middle">${tick(xv)}</text>`);
  }
  for (let i = 0; i <= 4; i++) {
    const yv = yMin + yStep * i;
    parts.push(`<line x1="${x0 - 5}" y1="${f(y(yv))}" x2="${x0}" y2="${f(y(yv))}" stroke="black"/>`);
    parts.push(`<line x1="${x0}" y1="${f(y(yv))}" x2="${W - M.right}" y2="${f(y(yv))}" stroke="#eee"/>`);
    parts.push(`<text x="${x0 - 8}" y="${f(y(yv) + 4)}" text-anchor="end">${tick(yv)}</text>`);
  }
  parts.push(`<text x="${(x0 + W - M.right) / 2}" y="${H - 8}" text-anchor="middle">step</text>`);
  parts.push(`<text x="14" y="${(M.top + y0) / 2}" text-anchor="middle" transform="rotate(-90 14 ${(M.top + y0) / 2})">loss</text>`);

  if (opts.chance !== undefined) {
    const cy = f(y(opts.chance));
    parts.push(`<line class="chance" x1="${x0}" y1="${cy}" x2="${W - M.right}" y2="${cy}" stroke="#888" stroke-dasharray="6 4"/>`);
    parts.push(`<text x="${x0 + 6}" y="${f(y(opts.chance) - 5)}" fill="#666">chance: ln(vocab) = ${opts.chance.toFixed(3)}</text>`);
  }

  // Curves.
  const path = (pts: Point[]) => pts.map((p, i) => `${i === 0 ? 'M' : 'L'}${f(x(p[0]))},${f(y(p[1]))}`).join(' ');
  if (train.length > 0) parts.push(`<path class="train" d="${path(train)}" fill="none" stroke="#1f77b4" stroke-width="1.5"/>`);
  if (evals.length > 0) {
    parts.push(`<path class="eval" d="${path(evals)}" fill="none" stroke="#ff7f0e" stroke-width="1.5"/>`);
    for (const p of evals) parts.push(`<circle cx="${f(x(p[0]))}" cy="${f(y(p[1]))}" r="3" fill="#ff7f0e"/>`);
  }

  // Legend.
  const lx = W - M.right - 110;
  parts.push(`<line x1="${lx}" y1="${M.top + 6}" x2="${lx + 20}" y2="${M.top + 6}" stroke="#1f77b4" stroke-width="2"/>`);
  parts.push(`<text x="${lx + 25}" y="${M.top + 10}">train loss</text>`);
  parts.push(`<line x1="${lx}" y1="${M.top + 22}" x2="${lx + 20}" y2="${M.top + 22}" stroke="#ff7f0e" stroke-width="2"/>`);
  parts.push(`<text x="${lx + 25}" y="${M.top + 26}">eval loss</text>`);
  parts.push('</svg>');
  return parts.join('\n');
}

/** The tick spacing of 1, 2, 2.5 or 5 × 10^k nearest above `raw`. */
function niceStep(raw: number): number {
  if (!(raw > 0)) return 1;
  const p = 10 ** Math.floor(Math.log10(raw));
  return ([1, 2, 2.5, 5, 10].find((m) => m * p >= raw * (1 - 1e-9)) ?? 10) * p;
}

/** A degenerate range (one point) still needs a width to divide by. */
function padRange(lo: number, hi: number): [number, number] {
  if (hi > lo) return [lo, hi];
  const d = Math.abs(lo) * 0.05 || 1;
  return [lo - d, hi + d];
}

function f(v: number): string {
  return v.toFixed(1);
}

/** Three significant digits without trailing zeros (7.5, not 7.50). */
function tick(v: number): string {
  return Math.abs(v) >= 100 || Number.isInteger(v) ? String(Math.round(v * 100) / 100) : String(Number(v.toPrecision(3)));
}

export function escapeXml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}
