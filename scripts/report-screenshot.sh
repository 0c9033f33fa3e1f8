#!/usr/bin/env bash
# Renders report.html of a short real run in headless Chromium and checks that the page shows the
# result table, the loss chart (train and eval curves, chance line) and the per-evaluation table.
# Usage: npm run build && npm run report:screenshot [-- OUT.png]   (needs Debian's chromium:
# apt-get install -y chromium). Not part of `npm test`: CI has no browser.
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
  prompt     = "Q: {instruction}\nA: "
  response   = "{output}"
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
node - "$work/dom.html" "$png" <<'JS'
const fs = require('fs');
const [dom, png] = process.argv.slice(2).map((f) => fs.readFileSync(f));
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
};
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
JS
echo "screenshot: $png"
