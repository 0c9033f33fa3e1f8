"""What transformers' AutoTokenizer makes of ftc's examples: token ids and labels, one per example.

Input: {"cases": [{"dir": model dir, "max_length": N, "chat_template": str|null,
                   "examples": [{"prompt", "response"} | {"messages"}]}]}.
Prompt/response examples are asked the way Stanford Alpaca's train.py asks: the joined text
prompt + response + eos_token, tokenized with the tokenizer's own special tokens and right
truncation; labels by offsets (a token starting before the response is masked, the BOS too).
Conversations are rendered by apply_chat_template (transformers' jinja2) and tokenized with
add_special_tokens=False as apply_chat_template does; each assistant turn's span comes from
rendering prefixes, and a token is trained when it lies wholly inside one.
"""
import json
import sys

from transformers import AutoTokenizer

IGNORE = -100
out = []
for case in json.load(sys.stdin)["cases"]:
    tok = AutoTokenizer.from_pretrained(case["dir"])
    rows = []
    for ex in case["examples"]:
        if "messages" in ex:
            msgs = ex["messages"]
            render = lambda m, gen: tok.apply_chat_template(m, chat_template=case["chat_template"], tokenize=False, add_generation_prompt=gen)
            turns = [i for i, m in enumerate(msgs) if m["role"] == "assistant"]
            text = render(msgs[: turns[-1] + 1], False)
            spans = [(len(render(msgs[:a], True)), len(render(msgs[: a + 1], False))) for a in turns]
            enc = tok(text, add_special_tokens=False, return_offsets_mapping=True, truncation=True, max_length=case["max_length"])
            labels = [i if any(s <= a and b <= e for s, e in spans) else IGNORE for i, (a, b) in zip(enc["input_ids"], enc["offset_mapping"])]
        else:
            text = ex["prompt"] + ex["response"] + tok.eos_token
            enc = tok(text, return_offsets_mapping=True, return_special_tokens_mask=True, truncation=True, max_length=case["max_length"])
            boundary = len(ex["prompt"])
            labels = [IGNORE if special or a < boundary else i
                      for i, (a, _), special in zip(enc["input_ids"], enc["offset_mapping"], enc["special_tokens_mask"])]
        rows.append({"ids": enc["input_ids"], "labels": labels})
    out.append({"class": type(tok).__name__, "rows": rows})
print(json.dumps({"cases": out}))
