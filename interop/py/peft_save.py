"""PEFT saves adapters for ftc to load. For each case: get_peft_model(base, LoraConfig(**lora)), every adapter tensor
(lora_A, lora_B, DoRA's lora_magnitude_vector, modules_to_save copies) set to seeded random values, save_pretrained(adapter_dir); the logits
of the given token ids; then merge_and_unload() and its linear, embedding and head weights saved to merged_file (safetensors) for ftc's
merge to be compared with.
"""
import json
import sys

import torch
from peft import LoraConfig, get_peft_model
from safetensors.torch import save_file
from transformers import AutoModelForCausalLM

torch.set_num_threads(1)
req = json.load(sys.stdin)


def save(case):
    torch.manual_seed(case["seed"])
    base = AutoModelForCausalLM.from_pretrained(case["model_dir"], dtype=torch.float32)
    model = get_peft_model(base, LoraConfig(**case["lora"]))
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "lora_A" in name or "lora_B" in name:
                p.copy_(torch.randn_like(p) * 0.2)
            elif "lora_magnitude_vector" in name:
                p.mul_(0.5 + torch.rand_like(p))  # away from ‖W + s·BA‖, so the rescaling shows
            elif "modules_to_save" in name:
                p.add_(torch.randn_like(p) * 0.1)
    model.save_pretrained(case["adapter_dir"])
    model.eval()
    with torch.no_grad():
        logits = [model(torch.tensor([ids])).logits[0].flatten().tolist() for ids in case["ids"]]
    merged = model.merge_and_unload()
    weights = {k: v.contiguous() for k, v in merged.state_dict().items() if k.endswith(("_proj.weight", "embed_tokens.weight", "lm_head.weight"))}
    save_file(weights, case["merged_file"])
    return {"logits": logits}


print(json.dumps({"cases": {c["name"]: save(c) for c in req["cases"]}}))
