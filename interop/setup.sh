#!/usr/bin/env bash
# Builds the Python interop environment (tests only) into .interop-venv/ at the repository root,
# from interop/requirements.txt, and reuses it while it is up to date (a stamp holds the file's sha256).
#   bash interop/setup.sh            build or reuse
#   FTC_INTEROP_VENV=DIR             build somewhere else (the tests read the same variable)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
venv="${FTC_INTEROP_VENV:-$root/.interop-venv}"
req="$root/interop/requirements.txt"
want="$(sha256sum "$req" | cut -d' ' -f1)"
stamp="$venv/.ftc-requirements.sha256"

if [[ -x "$venv/bin/python" && -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then
  echo "interop env: up to date ($venv)"
  exit 0
fi

python="${FTC_INTEROP_BASE_PYTHON:-python3.11}"
command -v "$python" >/dev/null || python=python3
if ! "$python" -c 'import sys; sys.exit(0 if sys.version_info[:2] == (3, 11) else 1)'; then
  echo "interop env: needs Python 3.11 (torch 2.13.0's CPU wheel on this machine is for 3.11); found $("$python" --version 2>&1)" >&2
  exit 1
fi

echo "interop env: building $venv from interop/requirements.txt"
rm -f "$stamp"
"$python" -m venv "$venv"
# --no-deps: the file is the whole closure, so pip resolves nothing and can never pull a newer (CUDA) torch.
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check --no-deps -r "$req"
"$venv/bin/python" -m pip check
"$venv/bin/python" - <<'PY'
import torch, transformers, peft, accelerate, datasets, bitsandbytes, gguf, safetensors, tokenizers
print("interop env: torch", torch.__version__, "transformers", transformers.__version__, "peft", peft.__version__,
      "accelerate", accelerate.__version__, "datasets", datasets.__version__, "bitsandbytes", bitsandbytes.__version__,
      "gguf", getattr(gguf, "__version__", "?"))
PY
echo "$want" > "$stamp"
