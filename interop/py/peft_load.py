"""PEFT loads ftc's adapters. For each case: PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(model),
adapter) with every warning captured; the keys PEFT itself would save for that adapter config beside the keys ftc
saved; the missing/unexpected keys of loading the file again; the logits of the given token ids. With `other_cwd`,
AutoPeftModelForCausalLM.from_pretrained(adapter) from that directory (it finds the base model by itself).

With `decay`: get_peft_model on that model and config, and the trainable parameter names with the ones HF Trainer
decays (Trainer.get_decay_parameter_names), plus the same for the plain model (full fine-tuning).
"""
import json
import os
import sys
import warnings

import torch
from peft import AutoPeftModelForCausalLM, LoraConfig, PeftModel, get_peft_model
from peft.utils import get_peft_model_state_dict, load_peft_weights, set_peft_model_state_dict
from safetensors import safe_open
from transformers import AutoModelForCausalLM, Trainer

torch.set_num_threads(1)
req = json.load(sys.stdin)


def logits_of(model, ids_list):
    model.eval()
    with torch.no_grad():
        return [model(torch.tensor([ids])).logits[0].flatten().tolist() for ids in ids_list]


def check(case):
    base = AutoModelForCausalLM.from_pretrained(case["model_dir"], dtype=torch.float32)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model = PeftModel.from_pretrained(base, case["adapter_dir"])
    # from_pretrained keeps its load result to itself (it warns on missing keys only); loading the same file into
    # the same adapter again returns it. Missing keys are filtered as load_adapter filters them (adapter keys only).
    probe = set_peft_model_state_dict(model, load_peft_weights(case["adapter_dir"]), adapter_name="default")
    with safe_open(os.path.join(case["adapter_dir"], "adapter_model.safetensors"), "pt") as f:
        saved = sorted(f.keys())
    out = {
        # transformers' own deprecation notices are not about the adapter.
        "warnings": [str(w.message) for w in caught if "is_gradient_checkpointing" not in str(w.message)],
        "missing": [k for k in probe.missing_keys if "lora_" in k and "default" in k],
        "unexpected": list(probe.unexpected_keys),
        "saved_keys": saved,
        "peft_keys": sorted(get_peft_model_state_dict(model, adapter_name="default").keys()),
        "logits": logits_of(model, case["ids"]),
    }
    if case.get("other_cwd"):
        here = os.getcwd()
        os.chdir(case["other_cwd"])
        try:
            auto = AutoPeftModelForCausalLM.from_pretrained(os.path.relpath(case["adapter_dir"]), dtype=torch.float32)
            out["auto_logits"] = logits_of(auto, case["ids"])
        finally:
            os.chdir(here)
    return out


def decay(spec):
    full = AutoModelForCausalLM.from_pretrained(spec["model_dir"], dtype=torch.float32)
    full_names = [n for n, _ in full.named_parameters()]
    full_decay = Trainer.get_decay_parameter_names(None, full)
    lora = get_peft_model(AutoModelForCausalLM.from_pretrained(spec["model_dir"], dtype=torch.float32), LoraConfig(**spec["lora"]))
    trainable = [n for n, p in lora.named_parameters() if p.requires_grad]
    lora_decay = set(Trainer.get_decay_parameter_names(None, lora))
    return {
        "full": [[n, n in full_decay] for n in full_names],
        "lora": [[n, n in lora_decay] for n in trainable],
    }


result = {"cases": {c["name"]: check(c) for c in req["cases"]}}
if req.get("decay"):
    result["decay"] = decay(req["decay"])
print(json.dumps(result))
