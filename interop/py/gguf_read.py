"""Reads ftc's GGUF exports with gguf-py and compares them with what llama.cpp's convert_hf_to_gguf.py writes
for the same Hugging Face model, as far as gguf-py itself can tell.

stdin: {"models": [{"files": {"f32": path, "f16": path, "q8_0": path}, "base": model dir (tokenizer), "merged": ftc's
merged f32 export of the same base + adapter (config.json + model.safetensors)}, ...]}, Llama or Qwen2 models.
stdout (last line): {"models": [{"arch": ..., "tokenizer_path": ..., "<dtype>": {"mismatches": [...], "tensors": n,
"keys": n, "q8_0_blocks": n, "q8_0_max_err_over_d": x, ...}}]}. An empty mismatch list is the pass condition.

The expectation is built from gguf-py's own tables and classes (the ones the converter calls): metadata through a
GGUFWriter's add_* methods with the values the converter takes from config.json, special tokens through
SpecialVocab, tensor names through get_tensor_name_map(arch), tensor bytes through gguf.quants.quantize
of the merged weights after the converter's q/k permutation. The converter script itself is not in the pip
package; its rules restated here (type choice, permutation, token types) are written out where they are used.
"""
import json
import sys
from pathlib import Path

import numpy as np
import gguf
from gguf import GGMLQuantizationType as QT, GGUFReader, GGUFValueType, Keys, MODEL_ARCH
from safetensors.numpy import load_file

# The converter's class per Hugging Face architecture, as far as ftc exports: LlamaModel permutes q/k and adds
# vocab_size and rope.dimension_count; Qwen2Model does neither.
ARCHS = {"LlamaForCausalLM": MODEL_ARCH.LLAMA, "MistralForCausalLM": MODEL_ARCH.LLAMA, "Qwen2ForCausalLM": MODEL_ARCH.QWEN2}
FILE_TYPE = {"f32": gguf.LlamaFileType.ALL_F32, "f16": gguf.LlamaFileType.MOSTLY_F16, "q8_0": gguf.LlamaFileType.MOSTLY_Q8_0}
MATRIX_TYPE = {"f32": QT.F32, "f16": QT.F16, "q8_0": QT.Q8_0}


def permute(w, n_head):
    """The converter's LlamaModel.permute: per head, rows (2, d/2) -> (d/2, 2), HF half-split rope -> GGML's interleaved."""
    return w.reshape(n_head, 2, w.shape[0] // n_head // 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


def expected_type(gguf_name, shape, dtype):
    """The converter's prepare_tensors rule: 1-D, *_norm.weight and non-.weight tensors F32; else the file type,
    falling back to F16 where q8_0 cannot quantize (rows not a whole number of blocks)."""
    if len(shape) <= 1 or gguf_name.endswith("_norm.weight") or not gguf_name.endswith(".weight"):
        return QT.F32
    qt = MATRIX_TYPE[dtype]
    block = gguf.GGML_QUANT_SIZES[qt][0]
    return QT.F16 if shape[-1] % block != 0 else qt


def looks_special(t):
    return t in ("<pad>", "<mask>", "<2mass>", "[@BOS@]") or (t.startswith("<|") and t.endswith("|>")) \
        or (t.startswith("<\uff5c") and t.endswith("\uff5c>")) or (t.startswith("<unused") and t.endswith(">"))


def token_list(base, vocab_size):
    """Tokens and types as the converter's get_vocab_base builds them from AutoTokenizer."""
    from transformers import AutoTokenizer
    tok = AutoTokenizer.from_pretrained(base)
    reverse = {i: t for t, i in tok.vocab.items()}
    added = tok.get_added_vocab()
    decoder = tok.added_tokens_decoder
    tokens, types = [], []
    for i in range(vocab_size):
        if i not in reverse:
            tokens.append(f"[PAD{i}]")
            types.append(gguf.TokenType.UNUSED)
            continue
        t = reverse[i]
        if t in added:
            if not decoder[i].normalized:
                t = tok.decode(tok.encode(t, add_special_tokens=False))
            if decoder[i].special or looks_special(t):
                types.append(gguf.TokenType.CONTROL)
            else:
                t = t.replace("\u2581", " ")
                types.append(gguf.TokenType.USER_DEFINED)
        else:
            types.append(gguf.TokenType.NORMAL)
        tokens.append(t)
    return tokens, types


def expected_metadata(arch, cfg, base, dtype, n_params):
    """The key/value pairs the converter writes for this model, through gguf-py's writer (key -> (value, type))."""
    w = gguf.GGUFWriter(path=None, arch=gguf.MODEL_ARCH_NAMES[arch])
    w.add_type(gguf.GGUFType.MODEL)
    w.add_size_label(gguf.size_label(n_params, n_params, 0, 0))
    w.add_block_count(cfg["num_hidden_layers"])
    w.add_context_length(cfg["max_position_embeddings"])
    w.add_embedding_length(cfg["hidden_size"])
    w.add_feed_forward_length(cfg["intermediate_size"])
    w.add_head_count(cfg["num_attention_heads"])
    w.add_head_count_kv(cfg["num_key_value_heads"])
    rope = cfg.get("rope_parameters") or cfg.get("rope_scaling") or {}
    w.add_rope_freq_base(rope.get("rope_theta", cfg.get("rope_theta")))
    if rope.get("rope_type", rope.get("type")) == "linear":
        w.add_rope_scaling_type(gguf.RopeScalingType.LINEAR)
        w.add_rope_scaling_factor(rope["factor"])
    w.add_layer_norm_rms_eps(cfg["rms_norm_eps"])
    head_dim = cfg.get("head_dim")
    if head_dim is not None:
        w.add_key_length(head_dim)
        w.add_value_length(head_dim)
    w.add_file_type(FILE_TYPE[dtype])
    if arch == MODEL_ARCH.LLAMA:
        w.add_vocab_size(cfg["vocab_size"])
        w.add_rope_dimension_count(head_dim or cfg["hidden_size"] // cfg["num_attention_heads"])
    tokens, types = token_list(base, cfg["vocab_size"])
    w.add_tokenizer_model("gpt2")
    # The converter picks the pre-tokenizer by hashing a test string's token ids against known models, which a
    # tiny model's own vocabulary never matches; ftc names GPT-2's regex, what a ByteLevel pre-tokenizer splits on.
    w.add_tokenizer_pre("gpt-2")
    w.add_token_list(tokens)
    w.add_token_types(types)
    gguf.SpecialVocab(Path(base), load_merges=True).add_to_gguf(w)
    w.add_quantization_version(gguf.GGML_QUANT_VERSION)
    return {k: v for k, v in w.kv_data[0].items()}


def check_file(path, dtype, arch, cfg, base, hf_weights):
    out = {"mismatches": []}
    bad = out["mismatches"].append
    r = GGUFReader(path)
    if r.alignment != 32:
        bad(f"alignment {r.alignment}")

    # Tensors: names from gguf-py's map, converter's permutation and type rule, bytes from gguf.quants.
    name_map = gguf.get_tensor_name_map(arch, cfg["num_hidden_layers"])
    allowed = {gguf.TENSOR_NAMES[t].format(bid=b) for t in gguf.MODEL_TENSORS[arch] for b in range(cfg["num_hidden_layers"])}
    want = {}
    for hf, w in hf_weights.items():
        name = name_map.get_name(hf, try_suffixes=(".weight", ".bias"))
        if name is None:
            bad(f"gguf-py has no GGUF name for {hf}")
            continue
        if name.rsplit(".", 1)[0] not in allowed:
            bad(f"{name} is not a {gguf.MODEL_ARCH_NAMES[arch]} tensor in gguf.constants")
        if arch == MODEL_ARCH.LLAMA and hf.endswith(("q_proj.weight", "q_proj.bias")):
            w = permute(w, cfg["num_attention_heads"])
        if arch == MODEL_ARCH.LLAMA and hf.endswith(("k_proj.weight", "k_proj.bias")):
            w = permute(w, cfg["num_key_value_heads"])
        want[name] = w
    got = {t.name: t for t in r.tensors}
    if sorted(got) != sorted(want):
        bad(f"tensor names: missing {sorted(set(want) - set(got))}, extra {sorted(set(got) - set(want))}")
    q8_blocks, q8_err, types = 0, 0.0, {}
    for name, w in want.items():
        t = got.get(name)
        if t is None:
            continue
        qt = expected_type(name, w.shape, dtype)
        types[t.tensor_type.name] = types.get(t.tensor_type.name, 0) + 1
        if t.tensor_type != qt:
            bad(f"{name}: type {t.tensor_type.name}, the converter writes {qt.name}")
            continue
        if [int(x) for x in t.shape] != list(reversed(w.shape)):
            bad(f"{name}: ne {list(t.shape)}, want {list(reversed(w.shape))}")
            continue
        raw = np.asarray(t.data)
        if gguf.quants.quantize(w, qt).tobytes() != raw.tobytes():
            bad(f"{name}: {qt.name} bytes differ from gguf.quants.quantize of the permuted merged weights")
        deq = gguf.quants.dequantize(raw, qt).reshape(w.shape)
        if qt == QT.F32 and not np.array_equal(deq, w):
            bad(f"{name}: f32 data differ from the permuted merged weights")
        if qt == QT.F16 and not np.allclose(deq, w, rtol=2.0 ** -11, atol=2.0 ** -24):
            bad(f"{name}: f16 data further than f16 rounding from the merged weights")
        if qt == QT.Q8_0:
            # Per 32-block: d = max|x| / 127 stored as f16, q = round(x / d): |x - q·f16(d)| <= d/2 + 127·d·2^-11.
            blocks = w.reshape(-1, gguf.GGML_QUANT_SIZES[QT.Q8_0][0])
            d = np.abs(blocks).max(axis=1, keepdims=True) / 127
            err = np.abs(deq.reshape(blocks.shape) - blocks)
            if np.any(err > d * (0.5 + 127 * 2.0 ** -11) + 1e-12):
                bad(f"{name}: q8_0 error beyond d/2 + f16 rounding of d")
            q8_blocks += blocks.shape[0]
            q8_err = max(q8_err, float((err / np.where(d == 0, 1, d)).max()))
    out.update(tensors=len(got), types=types, q8_0_blocks=q8_blocks, q8_0_max_err_over_d=q8_err)

    # Metadata: every key the converter writes, with its value and value type; nothing else (general.name is
    # the user's choice of name and is compared for presence only).
    n_params = sum(int(np.prod([int(x) for x in t.shape])) for t in r.tensors)
    expect = expected_metadata(arch, cfg, base, dtype, n_params)
    fields = {k: f for k, f in r.fields.items() if not k.startswith("GGUF.")}
    if Keys.General.NAME not in fields:
        bad("no general.name")
    fields.pop(Keys.General.NAME, None)
    if sorted(fields) != sorted(expect):
        bad(f"metadata keys: missing {sorted(set(expect) - set(fields))}, extra {sorted(set(fields) - set(expect))}")
    for k, ev in expect.items():
        f = fields.get(k)
        if f is None:
            continue
        if f.types[0] != ev.type or (ev.type == GGUFValueType.ARRAY and f.types[-1] != (ev.sub_type or f.types[-1])):
            bad(f"{k}: value type {[GGUFValueType(x).name for x in f.types]}, want {ev.type.name}")
        v = f.contents()
        e = ev.value
        if ev.type == GGUFValueType.FLOAT32:
            e = float(np.float32(e))
        elif isinstance(e, list) and e and isinstance(e[0], bytes):
            e = [x.decode() for x in e]
        elif hasattr(e, "value") and not isinstance(e, (str, bytes)):
            e = int(e)
        if isinstance(e, list):
            e = [int(x) if isinstance(x, int) else x for x in e]
            if v != e:
                i = next((i for i, (a, b) in enumerate(zip(v, e)) if a != b), min(len(v), len(e)))
                bad(f"{k}: {len(v)} items, want {len(e)}; first difference at {i}: {v[i:i + 1]!r}, want {e[i:i + 1]!r}")
        elif v != e:
            bad(f"{k}: {str(v)[:80]!r}, want {str(e)[:80]!r}")
    out["keys"] = len(expect)
    out["size_label"] = fields[Keys.General.SIZE_LABEL].contents() if Keys.General.SIZE_LABEL in fields else None
    return out


def check_model(m):
    base, merged = m["base"], m["merged"]
    cfg = json.loads((Path(merged) / "config.json").read_text())
    arch = ARCHS[cfg["architectures"][0]]
    hf_weights = load_file(str(Path(merged) / "model.safetensors"))
    result = {"arch": gguf.MODEL_ARCH_NAMES[arch]}
    # The converter's Llama class tries SentencePiece (tokenizer.model), then gguf-py's LlamaHfVocab, and takes the
    # GPT-2 BPE path only when both refuse (Qwen2's tries SentencePiece, then GPT-2): check that a byte-level BPE
    # tokenizer.json takes that path.
    try:
        gguf.LlamaHfVocab(Path(base))
        result["tokenizer_path"] = "llama-hf"
    except FileNotFoundError:
        result["tokenizer_path"] = "gpt2" if not (Path(base) / "tokenizer.model").exists() else "sentencepiece"
    for dtype, path in m["files"].items():
        result[dtype] = check_file(path, dtype, arch, cfg, base, hf_weights)
    return result


def main():
    req = json.load(sys.stdin)
    print(json.dumps({"models": [check_model(m) for m in req["models"]]}))


main()
