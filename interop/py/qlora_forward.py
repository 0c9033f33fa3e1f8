"""The QLoRA forward of a tiny Llama + PEFT adapter, two ways, for ftc's 4-bit base to be compared against:

- `bnb`: transformers loads the base with BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type=..., compute
  dtype float32) on CPU (bitsandbytes' Linear4bit), PeftModel.from_pretrained puts the adapter on top. If
  bitsandbytes' CPU path refuses, the error is returned instead of logits.
  On a CPU with AVX512-BF16, Linear4bit's inference forward (eval, no grad) repacks the weight on first use and
  multiplies at bfloat16 precision whatever the compute dtype (bnb_bf16_path: true). `bnb_f32` is the same model with that
  path turned off before the first forward (Linear4bit.support_avx512bf16_for_cpu = False): the float32 path.
- `dequant`: the float32 base with every decoder linear replaced by dequantize_4bit(quantize_4bit(W)) (blocks of
  64, compress_statistics = double quantization), then the adapter: dequantize-then-f32 in PyTorch.

stdin: {model_dir, adapter_dir, quant_type, double_quant, ids: [[...]]}; stdout: {bnb: [...] | bnb_error, dequant, full (the unquantized base, for contrast)}.
"""
import json
import sys

import torch
import bitsandbytes.functional as F
from peft import PeftModel
from transformers import AutoModelForCausalLM, BitsAndBytesConfig

torch.set_num_threads(1)
req = json.load(sys.stdin)


def logits_of(model):
    model.eval()
    with torch.no_grad():
        return [model(torch.tensor([ids])).logits[0].float().flatten().tolist() for ids in req["ids"]]


out = {}
try:
    q = BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type=req["quant_type"],
                           bnb_4bit_use_double_quant=req["double_quant"], bnb_4bit_compute_dtype=torch.float32)
    for key, bf16_path_allowed in (("bnb", True), ("bnb_f32", False)):
        base = AutoModelForCausalLM.from_pretrained(req["model_dir"], quantization_config=q, device_map="cpu", dtype=torch.float32)
        linear4 = [m for m in base.modules() if type(m).__name__ == "Linear4bit"]
        out["bnb_linear4bit_modules"] = len(linear4)
        # The attribute this bitsandbytes version reads; a version without it must fail here, not pass unnoticed.
        if not all(hasattr(m, "support_avx512bf16_for_cpu") for m in linear4):
            raise RuntimeError("Linear4bit has no support_avx512bf16_for_cpu: bitsandbytes changed its CPU path")
        if bf16_path_allowed:
            out["bnb_bf16_path"] = bool(linear4) and bool(linear4[0].support_avx512bf16_for_cpu)
        else:
            for m in linear4:
                m.support_avx512bf16_for_cpu = False
        out[key] = logits_of(PeftModel.from_pretrained(base, req["adapter_dir"]))
except Exception as e:  # reported, not hidden: the test says what bitsandbytes' CPU path did
    out["bnb_error"] = f"{type(e).__name__}: {e}"

base = AutoModelForCausalLM.from_pretrained(req["model_dir"], dtype=torch.float32)
out["full"] = logits_of(PeftModel.from_pretrained(base, req["adapter_dir"]))
base = AutoModelForCausalLM.from_pretrained(req["model_dir"], dtype=torch.float32)
for name, module in base.model.layers.named_modules():
    if isinstance(module, torch.nn.Linear):
        # Flattened: bitsandbytes' blocks run along the flattened weight (its default backend and CUDA dequantize so);
        # its CPU kernel for a 2-D shape indexes absmax per row instead, wrong when in_features % 64 != 0.
        w = module.weight.data
        packed, state = F.quantize_4bit(w.flatten(), blocksize=64, compress_statistics=req["double_quant"], quant_type=req["quant_type"])
        module.weight.data = F.dequantize_4bit(packed, state).float().reshape(w.shape)
out["dequant"] = logits_of(PeftModel.from_pretrained(base, req["adapter_dir"]))
print(json.dumps(out))
