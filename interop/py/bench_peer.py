"""The benchmark's peer: ftc's reference LoRA training step in transformers + peft on PyTorch (CPU, fp32).

stdin: {"config": config.json dict (ftc's llamaConfigToJson of the benchmark's model), "batch": B, "seq": T,
"lora": {"r", "alpha", "target_modules", "dropout"}, "optim": {"lr", "weight_decay", "beta1", "beta2", "eps",
"max_grad_norm"}, "threads": [1, 2], "warmup": n, "steps": n, "seed": s}.
stdout (last line): {"rows": [{"threads", "median_step_s", "tokens_per_s", "cpu_s_per_step", "steps_timed"}],
"versions": {...}, "attn_implementation": ...}. cpu_s_per_step is the process CPU time (all threads) per step, warm-up
included, as ftc's bench counts it: on a loaded machine it grows far less than wall time.

One step is what ftc's trainer does per batch: forward with labels (causal-LM loss on every token), backward,
global-norm clipping, AdamW over the adapter parameters, zero_grad. Random weights (transformers' own init), random
token ids, no padding. Each thread count (torch.set_num_threads, in this one process) gets its own warm-up; the
median of the timed steps is reported, like ftc's bench.
"""
import json
import statistics
import sys
import time

import torch
import transformers
import peft
from transformers import LlamaConfig, LlamaForCausalLM
from peft import LoraConfig, get_peft_model


def main():
    req = json.load(sys.stdin)
    torch.manual_seed(req["seed"])
    cfg = LlamaConfig.from_dict({k: v for k, v in req["config"].items() if k not in ("torch_dtype", "architectures")})
    model = LlamaForCausalLM(cfg).to(torch.float32)
    lo = req["lora"]
    model = get_peft_model(model, LoraConfig(r=lo["r"], lora_alpha=lo["alpha"], target_modules=lo["target_modules"],
                                             lora_dropout=lo["dropout"], bias="none", task_type="CAUSAL_LM"))
    model.train()
    o = req["optim"]
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=o["lr"], betas=(o["beta1"], o["beta2"]), eps=o["eps"], weight_decay=o["weight_decay"])
    batch, seq = req["batch"], req["seq"]
    gen = torch.Generator().manual_seed(req["seed"])

    def step():
        ids = torch.randint(0, cfg.vocab_size, (batch, seq), generator=gen)
        t0 = time.perf_counter()
        loss = model(input_ids=ids, labels=ids).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, o["max_grad_norm"])
        opt.step()
        opt.zero_grad(set_to_none=True)
        return time.perf_counter() - t0

    rows = []
    for n in req["threads"]:
        torch.set_num_threads(n)
        cpu0 = time.process_time()
        for _ in range(req["warmup"]):
            step()
        times = [step() for _ in range(req["steps"])]
        cpu = (time.process_time() - cpu0) / (req["warmup"] + req["steps"])
        s = statistics.median(times)
        rows.append({"threads": torch.get_num_threads(), "median_step_s": s, "tokens_per_s": batch * seq / s,
                     "cpu_s_per_step": cpu, "steps_timed": len(times)})
    print(json.dumps({
        "rows": rows,
        "trainable_params": sum(p.numel() for p in params),
        "attn_implementation": model.config._attn_implementation,
        "versions": {"torch": torch.__version__, "transformers": transformers.__version__, "peft": peft.__version__},
    }))


main()
