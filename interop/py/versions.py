"""Prints the installed version of every distribution the interop environment pins, as JSON."""
import json
import sys
from importlib.metadata import version, PackageNotFoundError

names = json.load(sys.stdin)["names"]
out = {}
for n in names:
    try:
        out[n] = version(n)
    except PackageNotFoundError:
        out[n] = None
import torch  # noqa: E402  (the import itself is part of the check: the CPU build loads)
out["_torch_cuda_build"] = torch.version.cuda
print(json.dumps(out))
