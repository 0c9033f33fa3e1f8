#!/usr/bin/env bash
# Renders report.html of a short real run in headless Chromium and checks that the page shows the
# result table, the loss chart (train and eval curves, chance line), the per-evaluation table and the
# side-by-side answers to held-out prompts (eval_generate: prompt, reference, base and tuned answers).
# Usage: npm run build && npm run report:screenshot [-- OUT.png]   (needs Debian's chromium:
# apt-get install -y chromium). Not part of `npm test`: CI has no browser. KEEP_WORK=1 keeps the run's directory.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
ftc=(node "$root/dist/src/cli/main.js")
png="${1:-$root/report-screenshot.png}"
browser="$(command -v chromium || command -v chromium-browser || true)"
if [[ -z "$browser" ]]; then
  echo "report-screenshot: no chromium on PATH (Debian: apt-get install -y chromium)" >&2
  exit 2
fi
[[ -f "$root/dist/src/cli/main.js" ]] || { echo "report-screenshot: build first (npm run build)" >&2; exit 2; }

work="$(mktemp -d)"
profile="$(mktemp -d)"
trap 'rm -rf "$work" "$profile"' EXIT
[[ -n "${KEEP_WORK:-}" ]] && trap 'rm -rf "$profile"; echo "work: $work"' EXIT

# A tiny learnable task and a tiny model: the run takes seconds.
node -e '
  const colours = { apple: "red", banana: "yellow", grass: "green", sky: "blue", snow: "white", coal: "black" };
  const keys = Object.keys(colours);
  const rows = Array.from({ length: 40 }, (_, i) => { const k = keys[(i * 5 + 3) % keys.length];
    return { instruction: `What color is the ${k}?`, input: "", output: `The ${k} is ${colours[k]}.` }; });
  require("fs").writeFileSync(process.argv[1], JSON.stringify(rows));' "$work/data.json"
"${ftc[@]}" init-model "$work/model" --layers 1 --hidden 32 --heads 2 --kv-heads 1 --ffn 64 --vocab 300 \
  --max-positions 64 --corpus "$work/data.json" >/dev/null
cat > "$work/p.ft" <<'FT'
pipeline screenshot {
  seed = 1
}
data raw {
  source = "data.json"
}
preprocess prompts {
  input      = raw
  # The space before the answer is the response's: " The" is one token, trained on, and a prompt
  # that ended in the space would ask for the rest of a token the model never saw split.
  prompt     = "Q: {instruction}\nA:"
  response   = " {output}"
  eval_split = 0.25
}
tokenizer tok {
  input      = prompts
  vocab      = "model/tokenizer.json"
  max_length = 64
}
model base {
  path = "model"
}
lora adapter {
  model          = base
  r              = 4
  alpha          = 8
  target_modules = [q_proj, v_proj]
}
trainer sft {
  model         = adapter
  data          = tok
  batch_size    = 4
  max_steps     = 30
  lr            = 1e-2
  log_every     = 2
  eval_every    = 10
  eval_on_start = true
  eval_generate = 3
  eval_max_new_tokens = 12
  precision     = fp16
  output        = "out"
}
FT
FTC_CACHE_DIR="$work/cache" "${ftc[@]}" run "$work/p.ft" --backend cpu --workers 1 >"$work/run.log" 2>&1 \
  || { cat "$work/run.log" >&2; exit 1; }
report="$work/out/report.html"

flags=(--headless --no-sandbox --disable-gpu --disable-background-networking --disable-component-update
  --disable-sync --no-first-run --user-data-dir="$profile" --window-size=1000,1500 --hide-scrollbars)
"$browser" "${flags[@]}" --screenshot="$png" "file://$report" >/dev/null 2>&1
"$browser" "${flags[@]}" --dump-dom "file://$report" 2>/dev/null >"$work/dom.html"

# The DOM as Chromium parsed it must hold the parts a reader looks at; the PNG must not be blank.
node - "$work/dom.html" "$png" "$work/out/eval_generations.jsonl" "$root" <<'JS'
(async () => {
const fs = require('fs');
const [answersFile, root] = process.argv.slice(4);
// The report's own rule for showing a text in a cell (newlines marked, control characters escaped).
const { visibleText } = await import(`${root}/dist/src/runtime/train/report.js`);
const [dom, png] = process.argv.slice(2, 4).map((f) => fs.readFileSync(f));
const html = dom.toString('utf8');
const need = {
  'result table': /<table class="result">/,
  'loss chart': /<svg[^>]*width="640"/,
  'train curve': /<path class="train" d="M/,
  'eval curve': /<path class="eval" d="M/,
  'chance line': /<line class="chance"/,
  'evaluations table from step 0 (eval_on_start) to step 30': /<table class="evals">(?:(?!<\/table>)[\s\S])*?<tr><td>0<\/td>(?:(?!<\/table>)[\s\S])*?<tr><td>30<\/td>/,
  'timings table': /<table class="timings">/,
  'precision that ran': /precision: <b>fp32/,
  'answers table with its four columns': /<table class="answers">\s*(?:<tbody>)?<tr><th>prompt<\/th><th>reference<\/th><th>base model<\/th><th>tuned model<\/th><\/tr>/,
};
// Each held-out row of eval_generations.jsonl is a row of the table as Chromium parsed it: all four cells, in order.
// As Chromium serializes text: & < > escaped.
const esc = (s) => visibleText(s).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
const answers = fs.readFileSync(answersFile, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
if (answers.length !== 3) need[`3 held-out answers (got ${answers.length})`] = /(?!)/;
answers.forEach((a, i) => {
  const row = `<tr><td>${[a.prompt, a.reference, a.base, a.tuned].map(esc).join('</td><td>')}</td></tr>`;
  need[`answers row ${i + 1} (${JSON.stringify(a.prompt)} → base ${JSON.stringify(a.base)}, tuned ${JSON.stringify(a.tuned)})`] = { test: (h) => h.includes(row) };
});
const missing = Object.entries(need).filter(([, re]) => !re.test(html)).map(([k]) => k);
const isPng = png.subarray(1, 4).toString('latin1') === 'PNG';
const width = png.readUInt32BE(16), height = png.readUInt32BE(20);
// A blank white page of this size compresses to a few kB; the report with its chart and tables is tens of kB.
if (!isPng || png.length < 20000) missing.push(`a non-blank screenshot (got ${png.length} bytes)`);
if (missing.length > 0) {
  console.error(`report-screenshot: FAILED, missing: ${missing.join('; ')}`);
  process.exit(1);
}
console.log(`report-screenshot: ok: ${Object.keys(need).join(', ')}; ${width}x${height} PNG, ${png.length} bytes`);
})().catch((e) => { console.error(e); process.exit(1); });
JS
echo "screenshot: $png"
