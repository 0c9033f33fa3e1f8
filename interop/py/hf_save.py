"""Models and an adapter as transformers and PEFT save them, for ftc to load.

Each model: random init from a LlamaForCausalLM / Qwen2ForCausalLM config (norm weights and biases randomised too,
so none is a trivial 1 or 0), saved with save_pretrained in the given dtype, single file or sharded
(max_shard_size). Returned: its config.json as written, the files written, and the reference logits of the given
ids: the saved weights loaded back in float32 (`logits`), and for a bf16 model also computed in bfloat16
(`logits_native`).

The adapter: get_peft_model on one of those models (bias = all), a few AdamW steps of causal-LM loss on the ids,
save_pretrained; its reference logits come from a fresh PeftModel.from_pretrained of what was saved.
"""
import json
import os
import sys
import warnings

import torch
from peft import LoraConfig, PeftModel, get_peft_model
from safetensors import safe_open
from transformers import AutoModelForCausalLM, LlamaConfig, LlamaForCausalLM, Qwen2Config, Qwen2ForCausalLM

warnings.simplefilter("ignore", FutureWarning)  # transformers' own deprecation notices
torch.set_num_threads(1)
req = json.load(sys.stdin)
DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16}
DIMS = dict(vocab_size=320, hidden_size=64, intermediate_size=80, num_hidden_layers=2, num_attention_heads=4,
            num_key_value_heads=2, max_position_embeddings=128, rms_norm_eps=1e-6, initializer_range=0.3,
            # Qwen2Config defaults these to None; every Qwen2 checkpoint sets them, and ftc requires eos_token_id.
            bos_token_id=1, eos_token_id=2)


def logits_of(model, ids_list):
    model.eval()
    with torch.no_grad():
        return [model(torch.tensor([ids])).logits[0].float().flatten().tolist() for ids in ids_list]


def make(spec):
    torch.manual_seed(spec["seed"])
    extra = {"tie_word_embeddings": spec["tie"]}
    if "rope_theta" in spec:
        extra["rope_parameters"] = {"rope_type": "default", "rope_theta": spec["rope_theta"]}
    if spec["arch"] == "qwen2":
        model = Qwen2ForCausalLM(Qwen2Config(**DIMS, **extra))
    else:
        model = LlamaForCausalLM(LlamaConfig(**DIMS, **extra))
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("norm.weight"):
                p.copy_(1 + 0.2 * torch.randn_like(p))
            elif name.endswith(".bias"):
                p.copy_(0.3 * torch.randn_like(p))
    model.to(DTYPES[spec["dtype"]])
    model.save_pretrained(spec["dir"], **({"max_shard_size": "100KB"} if spec["shard"] else {}))
    out = {
        "config": json.load(open(os.path.join(spec["dir"], "config.json"))),
        "files": sorted(os.listdir(spec["dir"])),
        "logits": logits_of(AutoModelForCausalLM.from_pretrained(spec["dir"], dtype=torch.float32), req["ids"]),
    }
    if spec["dtype"] != "float32":
        out["logits_native"] = logits_of(AutoModelForCausalLM.from_pretrained(spec["dir"], dtype=DTYPES[spec["dtype"]]), req["ids"])
    return out


def train_adapter(spec):
    torch.manual_seed(0)
    base = AutoModelForCausalLM.from_pretrained(spec["base_dir"], dtype=torch.float32)
    model = get_peft_model(base, LoraConfig(**spec["lora"]))
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=spec["lr"])
    model.train()
    for step in range(spec["steps"]):
        ids = torch.tensor([req["ids"][step % len(req["ids"])]])
        loss = model(input_ids=ids, labels=ids).loss
        loss.backward()
        opt.step()
        opt.zero_grad()
    model.save_pretrained(spec["dir"])
    with safe_open(os.path.join(spec["dir"], "adapter_model.safetensors"), "pt") as f:
        keys = sorted(f.keys())
    fresh = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(spec["base_dir"], dtype=torch.float32), spec["dir"])
    untouched = AutoModelForCausalLM.from_pretrained(spec["base_dir"], dtype=torch.float32)
    return {"keys": keys, "logits": logits_of(fresh, req["ids"]), "base_logits": logits_of(untouched, req["ids"])}


result = {"models": {m["name"]: make(m) for m in req["models"]}}
if req.get("adapter"):
    result["adapter"] = train_adapter(req["adapter"])
print(json.dumps(result))
