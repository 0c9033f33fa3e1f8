import { basename } from 'node:path';
import type { HostTensor, WeightMap } from '../model/api.js';
import type { LlamaConfig } from '../../model-spec/config.js';
import { ggufVocab } from './gguf-vocab.js';
import { type GgmlTypeName, type GgufTensor, type GgufValue, Q8_0_BLOCK, writeGguf } from './gguf-writer.js';

/**
 * A merged Llama-family model as a GGUF file that llama.cpp loads, laid out as llama.cpp's
 * convert_hf_to_gguf.py lays it out: its metadata keys, its tensor names, its q/k permutation and
 * its choice of tensor types.
 *
 * Supported: LlamaForCausalLM and MistralForCausalLM (both arch "llama", optional attention biases),
 * Qwen2ForCausalLM (arch "qwen2": q/k/v biases, and no permutation since llama.cpp runs Qwen2 with
 * NeoX-style rope, the layout Hugging Face already uses).
 */

export type GgufDtype = 'f32' | 'f16' | 'bf16' | 'q8_0';

/** llama_ftype: what general.file_type says the bulk of the tensors are. */
const FILE_TYPE: Record<GgufDtype, number> = { f32: 0, f16: 1, q8_0: 7, bf16: 32 };
/** GGML_QNT_VERSION: the version of the quantization formats, written by every converter. */
const QUANTIZATION_VERSION = 2;

/** Hugging Face tensor name → llama.cpp's, e.g. model.layers.3.mlp.down_proj.weight → blk.3.ffn_down.weight. */
export function ggufTensorName(hf: string): string {
  const fixed: Record<string, string> = {
    'model.embed_tokens.weight': 'token_embd.weight',
    'model.norm.weight': 'output_norm.weight',
    'lm_head.weight': 'output.weight',
  };
  if (fixed[hf]) return fixed[hf]!;
  const m = /^model\.layers\.(\d+)\.(.+)\.(weight|bias)$/.exec(hf);
  const inner: Record<string, string> = {
    input_layernorm: 'attn_norm',
    'self_attn.q_proj': 'attn_q',
    'self_attn.k_proj': 'attn_k',
    'self_attn.v_proj': 'attn_v',
    'self_attn.o_proj': 'attn_output',
    post_attention_layernorm: 'ffn_norm',
    'mlp.gate_proj': 'ffn_gate',
    'mlp.up_proj': 'ffn_up',
    'mlp.down_proj': 'ffn_down',
  };
  if (!m || !inner[m[2]!]) throw new Error(`no GGUF name for tensor ${hf}`);
  return `blk.${m[1]}.${inner[m[2]!]}.${m[3]}`;
}

/**
 * convert_hf_to_gguf.py's LlamaModel.permute: Hugging Face's rotary embedding pairs dimension j with
 * j + d/2 of each head (rotate_half); GGML's "normal" rope pairs 2j with 2j+1. Reordering the rows of
 * W_q and W_k (and their biases) per head as reshape(n_head, 2, d/2, ...).swapaxes(1, 2) makes the
 * interleaved rope compute what the half-split one did:
 *
 *     out row h·d + 2j + t  =  in row h·d + t·d/2 + j        (t ∈ {0, 1}, j < d/2)
 */
export function permuteRope(t: HostTensor, nHead: number): HostTensor {
  const rows = t.shape[0]!;
  const cols = t.data.length / rows;
  const d = rows / nHead;
  if (!Number.isInteger(d) || d % 2 !== 0) throw new Error(`cannot split ${rows} rows into ${nHead} heads of even size`);
  const out = new Float32Array(t.data.length);
  for (let h = 0; h < nHead; h++) {
    for (let j = 0; j < d / 2; j++) {
      for (let s = 0; s < 2; s++) {
        const from = (h * d + s * (d / 2) + j) * cols;
        out.set(t.data.subarray(from, from + cols), (h * d + 2 * j + s) * cols);
      }
    }
  }
  return { shape: [...t.shape], data: out };
}

/**
 * The tensor type convert_hf_to_gguf.py picks: 1-D tensors and norms stay f32; matrices take the
 * requested type, except that q8_0 falls back to f16 for a matrix whose rows (ne[0]) are not a whole
 * number of 32-element blocks.
 */
export function tensorType(hfName: string, shape: number[], dtype: GgufDtype): GgmlTypeName {
  if (shape.length <= 1 || hfName.endsWith('norm.weight') || dtype === 'f32') return 'F32';
  if (dtype === 'q8_0') return shape[shape.length - 1]! % Q8_0_BLOCK === 0 ? 'Q8_0' : 'F16';
  return dtype === 'f16' ? 'F16' : 'BF16';
}

export function ggufArchitecture(c: LlamaConfig): 'llama' | 'qwen2' {
  return c.architecture === 'Qwen2ForCausalLM' ? 'qwen2' : 'llama';
}

/**
 * gguf-py's size label (utility.size_label for a dense model), which the converter writes as
 * general.size_label: the parameter count in K/M/B/T with at least two significant digits, e.g. 96,576 →
 * "97K", 1,100,048,384 → "1.1B". Python rounds half to even, so exact ties do here too.
 */
export function sizeLabel(params: number): string {
  const [scaled, suffix] = params > 1e12 ? [params * 1e-12, 'T'] : params > 1e9 ? [params * 1e-9, 'B'] : params > 1e6 ? [params * 1e-6, 'M'] : [params * 1e-3, 'K'];
  const halfEven = (x: number) => (x - Math.floor(x) === 0.5 ? 2 * Math.round(x / 2) : Math.round(x));
  const digits = String(halfEven(scaled)).replace(/^0+/, '').length;
  const fix = Math.max(2 - digits, 0);
  return `${(halfEven(scaled * 10 ** fix) / 10 ** fix).toFixed(fix)}${suffix}`;
}

/**
 * The model's hyper-parameters under llama.cpp's keys, and the general.* keys the converter writes
 * (general.alignment is left out, as the converter leaves it out: 32 is GGUF's default).
 */
export function ggufModelMetadata(c: LlamaConfig, name: string, dtype: GgufDtype, params: number): Map<string, GgufValue> {
  const arch = ggufArchitecture(c);
  const kv = new Map<string, GgufValue>();
  const u32 = (k: string, value: number) => kv.set(k, { type: 'u32', value });
  const f32 = (k: string, value: number) => kv.set(k, { type: 'f32', value });
  kv.set('general.architecture', { type: 'string', value: arch });
  kv.set('general.type', { type: 'string', value: 'model' });
  kv.set('general.name', { type: 'string', value: name });
  kv.set('general.size_label', { type: 'string', value: sizeLabel(params) });
  u32('general.file_type', FILE_TYPE[dtype]);
  u32('general.quantization_version', QUANTIZATION_VERSION);
  u32(`${arch}.context_length`, c.maxPositionEmbeddings);
  u32(`${arch}.embedding_length`, c.hiddenSize);
  u32(`${arch}.block_count`, c.numHiddenLayers);
  u32(`${arch}.feed_forward_length`, c.intermediateSize);
  u32(`${arch}.attention.head_count`, c.numAttentionHeads);
  u32(`${arch}.attention.head_count_kv`, c.numKeyValueHeads);
  u32(`${arch}.attention.key_length`, c.headDim);
  u32(`${arch}.attention.value_length`, c.headDim);
  f32(`${arch}.rope.freq_base`, c.ropeTheta);
  f32(`${arch}.attention.layer_norm_rms_epsilon`, c.rmsNormEps);
  // The converter's Llama class adds these two; its Qwen2 class does not (llama.cpp derives both).
  if (arch === 'llama') {
    u32(`${arch}.vocab_size`, c.vocabSize);
    u32(`${arch}.rope.dimension_count`, c.headDim);
  }
  if (c.ropeScaling) {
    kv.set(`${arch}.rope.scaling.type`, { type: 'string', value: 'linear' });
    f32(`${arch}.rope.scaling.factor`, c.ropeScaling.factor);
  }
  return kv;
}

/** The model's weights as GGUF tensors (HF order: embeddings, blocks, norm, head), permuted and typed. */
export function ggufTensors(c: LlamaConfig, weights: WeightMap, dtype: GgufDtype): GgufTensor[] {
  const permute = ggufArchitecture(c) === 'llama';
  const out: GgufTensor[] = [];
  for (const [name, t0] of weights) {
    let t = t0;
    if (permute && /\.self_attn\.q_proj\.(weight|bias)$/.test(name)) t = permuteRope(t, c.numAttentionHeads);
    if (permute && /\.self_attn\.k_proj\.(weight|bias)$/.test(name)) t = permuteRope(t, c.numKeyValueHeads);
    out.push({ name: ggufTensorName(name), shape: t.shape, type: tensorType(name, t.shape, dtype), data: t.data });
  }
  return out;
}

/** Writes `<path>`: metadata, tokenizer and tensors. Returns the file's size in bytes. */
export function writeModelGguf(path: string, opts: { config: LlamaConfig; weights: WeightMap; modelDir: string; dtype: GgufDtype; name?: string }): number {
  const { config, weights, modelDir, dtype } = opts;
  const tensors = ggufTensors(config, weights, dtype);
  const params = tensors.reduce((n, t) => n + t.data.length, 0);
  const metadata = ggufModelMetadata(config, opts.name ?? basename(modelDir), dtype, params);
  for (const [k, v] of ggufVocab(modelDir, config)) metadata.set(k, v);
  return writeGguf(path, metadata, tensors);
}
