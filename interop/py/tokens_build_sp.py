"""Builds a Llama-style SentencePiece BPE (Metaspace, byte_fallback) with the tokenizers library.

Input: {"dir": ..., "texts": [...], "vocab_size": N}. Writes tokenizer.json and a tokenizer_config.json
with add_bos_token (true) / add_eos_token (false), as Llama checkpoints ship them.
"""
import json
import os
import sys

from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers

job = json.load(sys.stdin)
specials = ["<unk>", "<s>", "</s>"]
tok = Tokenizer(models.BPE(unk_token="<unk>", byte_fallback=True, fuse_unk=True))
tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="\u2581", prepend_scheme="first", split=False)
tok.decoder = decoders.Sequence([decoders.Replace("\u2581", " "), decoders.ByteFallback(), decoders.Fuse(), decoders.Strip(" ", 1, 0)])
byte_tokens = [f"<0x{b:02X}>" for b in range(256)]
trainer = trainers.BpeTrainer(vocab_size=job["vocab_size"], special_tokens=specials + byte_tokens, show_progress=False)
tok.train_from_iterator(job["texts"], trainer=trainer)
tok.post_processor = processors.TemplateProcessing(single="<s> $A", pair="<s> $A <s> $B", special_tokens=[("<s>", tok.token_to_id("<s>"))])
os.makedirs(job["dir"], exist_ok=True)
tok.save(os.path.join(job["dir"], "tokenizer.json"))
with open(os.path.join(job["dir"], "tokenizer_config.json"), "w") as f:
    json.dump({"tokenizer_class": "LlamaTokenizer", "add_bos_token": True, "add_eos_token": False,
               "bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>", "legacy": False}, f)
print(json.dumps({"vocab_size": tok.get_vocab_size()}))
