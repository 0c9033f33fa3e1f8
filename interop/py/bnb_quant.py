"""Quantizes raw weights with bitsandbytes' 4-bit quantizer and writes every part of the result as raw files.

stdin: {"dir": path, "cases": [{"name", "dtype": "f32"|"bf16", "shape", "quant_type", "double_quant"}]}; each
case's input is <dir>/<name>.in (little-endian f32, or bf16 bits). For each case it writes <dir>/<name>.<part>:
packed (uint8), absmax (f32; when nested, the uint8 quantized absmax), absmax2 (f32), code (f32),
nested_code (f32), dequant (f32, bitsandbytes.functional.dequantize_4bit). Prints one JSON line: per case the
offset, shapes and dtypes that are not raw bytes, plus whether create_dynamic_map() equals the nested code.

Optional "checkpoints": [{"name", "quant_type", "double_quant"}]: a tiny random Llama saved in f32 to
<dir>/<name>/base, loaded on CPU with BitsAndBytesConfig(load_in_4bit=True, ...) and saved by transformers to
<dir>/<name>/q4; every Linear4bit weight dequantized by bitsandbytes goes to <dir>/<name>/<weight>.dequant.
"""
import copy
import json
import sys

import numpy as np
import torch
import bitsandbytes.functional as F


def dequantize_flat(packed, state):
    """dequantize_4bit over the flattened weight, reshaped back: bitsandbytes' blocks run along the flattened
    weight (its default backend and CUDA dequantize so), but on some CPUs its kernel for a 2-D shape indexes
    absmax per row instead, wrong when in_features % 64 != 0 (seen on this project's CI machine)."""
    flat = copy.copy(state)
    flat.shape = torch.Size([state.shape.numel()])
    return F.dequantize_4bit(packed, flat).reshape(state.shape)


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
    write(name, "dequant", dequantize_flat(packed, state))
    out["cases"][name] = info


def save_4bit(ck):
    from transformers import AutoModelForCausalLM, BitsAndBytesConfig, LlamaConfig, LlamaForCausalLM
    import bitsandbytes as bnb

    base = f"{root}/{ck['name']}"
    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=64, hidden_size=64, intermediate_size=96, num_hidden_layers=1,
                         num_attention_heads=4, num_key_value_heads=2)
    LlamaForCausalLM(config).save_pretrained(f"{base}/base")
    q = BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type=ck["quant_type"],
                           bnb_4bit_use_double_quant=ck["double_quant"], bnb_4bit_compute_dtype=torch.float32)
    model = AutoModelForCausalLM.from_pretrained(f"{base}/base", quantization_config=q, device_map="cpu")
    model.save_pretrained(f"{base}/q4")
    weights = []
    for name, module in model.named_modules():
        if isinstance(module, bnb.nn.Linear4bit):
            w = module.weight
            dequantize_flat(w.data, w.quant_state).float().numpy().tofile(f"{base}/{name}.weight.dequant")
            weights.append(f"{name}.weight")
    return {"weights": weights}


out["checkpoints"] = {ck["name"]: save_4bit(ck) for ck in req.get("checkpoints", [])}
print(json.dumps(out))
