"""transformers loads ftc's model directories (merged exports, `ftc init-model`). For each case: AutoTokenizer and
AutoModelForCausalLM.from_pretrained(dir) with warnings captured, the tokenizer's ids for each text, the logits of
those ids (weights widened to float32, as ftc computes), the dtype the weights were stored in, and greedy
`generate` from the prompt, decoded without special tokens.
"""
import json
import sys
import warnings

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

torch.set_num_threads(1)
req = json.load(sys.stdin)


def check(case):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        tok = AutoTokenizer.from_pretrained(case["dir"])
        stored = AutoModelForCausalLM.from_pretrained(case["dir"], dtype="auto")
        model = AutoModelForCausalLM.from_pretrained(case["dir"], dtype=torch.float32).eval()
    ids = [tok(t)["input_ids"] for t in case["texts"]]
    with torch.no_grad():
        logits = [model(torch.tensor([s])).logits[0].flatten().tolist() for s in ids]
        prompt = tok(case["prompt"], return_tensors="pt")
        out = model.generate(**prompt, max_new_tokens=case["max_new_tokens"], do_sample=False)
    new = out[0][prompt["input_ids"].shape[1]:].tolist()
    return {
        "warnings": [str(w.message) for w in caught],
        "stored_dtype": str(stored.dtype).removeprefix("torch."),
        "ids": ids,
        "logits": logits,
        "prompt_ids": prompt["input_ids"][0].tolist(),
        "generated_ids": new,
        "generated_text": tok.decode(new, skip_special_tokens=True),
    }


print(json.dumps({c["name"]: check(c) for c in req["cases"]}))
