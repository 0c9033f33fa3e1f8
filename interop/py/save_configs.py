"""Saves transformers configs with save_pretrained and reports what transformers itself reads back.

stdin: {"out": DIR, "cases": [{"name", "class": "LlamaConfig"|"Qwen2Config", "kwargs": {...}}]}
stdout (last line): {name: {"accepted": bool, "error"?: str, "dir"?: str, "read"?: {...}}}
"""
import json
import os
import sys

import transformers


def main():
    req = json.load(sys.stdin)
    out = {}
    for case in req["cases"]:
        cls = getattr(transformers, case["class"])
        try:
            config = cls(**case["kwargs"])
        except Exception as e:  # transformers' strict validation refuses the config
            out[case["name"]] = {"accepted": False, "error": str(e).splitlines()[-1]}
            continue
        d = os.path.join(req["out"], case["name"])
        config.save_pretrained(d)
        # Read back from disk, as a user's from_pretrained would.
        back = cls.from_pretrained(d)
        rp = back.rope_parameters
        head_dim = getattr(back, "head_dim", None) or back.hidden_size // back.num_attention_heads
        out[case["name"]] = {
            "accepted": True,
            "dir": d,
            "read": {
                "rope_theta": rp["rope_theta"],
                "rope_type": rp["rope_type"],
                "factor": rp.get("factor"),
                "head_dim": head_dim,
                "num_key_value_heads": back.num_key_value_heads,
                "hidden_size": back.hidden_size,
                "max_position_embeddings": back.max_position_embeddings,
                "tie_word_embeddings": back.tie_word_embeddings,
            },
            "json_keys": sorted(json.load(open(os.path.join(d, "config.json"))).keys()),
        }
    print(json.dumps(out))


if __name__ == "__main__":
    main()
