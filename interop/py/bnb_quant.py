"""Quantizes raw weights with bitsandbytes' 4-bit quantizer and writes every part of the result as raw files.

stdin: {"dir": path, "cases": [{"name", "dtype": "f32"|"bf16", "shape", "quant_type", "double_quant"}]}; each
case's input is <dir>/<name>.in (little-endian f32, or bf16 bits). For each case it writes <dir>/<name>.<part>:
packed (uint8), absmax (f32; when nested, the uint8 quantized absmax), absmax2 (f32), code (f32),
nested_code (f32), dequant (f32, bitsandbytes.functional.dequantize_4bit). Prints one JSON line: per case the
offset, shapes and dtypes that are not raw bytes, plus whether create_dynamic_map() equals the nested code.
"""
import json
import sys

import numpy as np
import torch
import bitsandbytes.functional as F

req = json.load(sys.stdin)
root = req["dir"]
out = {"torch_threads": torch.get_num_threads(), "cases": {}}


def write(name, part, t):
    t.detach().contiguous().cpu().numpy().tofile(f"{root}/{name}.{part}")


for case in req["cases"]:
    name = case["name"]
    raw = np.fromfile(f"{root}/{name}.in", dtype=np.float32 if case["dtype"] == "f32" else np.int16)
    w = torch.from_numpy(raw)
    if case["dtype"] == "bf16":
        w = w.view(torch.bfloat16)
    w = w.reshape(case["shape"])
    packed, state = F.quantize_4bit(
        w, blocksize=64, compress_statistics=case["double_quant"], quant_type=case["quant_type"]
    )
    write(name, "packed", packed)
    write(name, "absmax", state.absmax)
    write(name, "code", state.code)
    info = {
        "packed_shape": list(packed.shape),
        "packed_dtype": str(packed.dtype),
        "absmax_dtype": str(state.absmax.dtype),
        "nested": state.nested,
        "blocksize": state.blocksize,
        "shape": list(state.shape),
    }
    if state.nested:
        write(name, "absmax2", state.state2.absmax)
        write(name, "nested_code", state.state2.code)
        info.update(
            offset=state.offset.item(),
            offset_dtype=str(state.offset.dtype),
            nested_blocksize=state.state2.blocksize,
            dynamic_map_is_nested_code=bool(torch.equal(F.create_dynamic_map(), state.state2.code)),
        )
    # Dequantize to f32 whatever the input dtype, so the comparison is of the arithmetic, not of a bf16 rounding.
    state.dtype = torch.float32
    write(name, "dequant", F.dequantize_4bit(packed, state))
    out["cases"][name] = info

print(json.dumps(out))
