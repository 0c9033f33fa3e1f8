/**
 * The memory plan: a pure estimate, before anything runs, of what one LoRA training worker holds, and how
 * many workers fit in the backend's limits (the wasm heap per worker, the machine's RAM).
 *
 * It needs numbers only (no tfjs, no files), so `ftc check`/`ftc plan` and the runtime compute the same
 * figures. The model's facts come from model-spec (params.ts counts the parameters, modules.ts gives each
 * linear's shape); this file adds only what memory they take. Every figure is in bytes. Where a formula
 * counts tensors the runtime keeps, the runtime file is named.
 */
import type { LlamaConfig } from './config.js';
import { LINEAR_MODULES, moduleDims } from './modules.js';
import { baseParameterGroups, loraParameterCount, type LoraBias } from './params.js';

/** The training run's numbers. */
export interface TrainingShape {
  /** Rows per optimizer micro-batch (split over the workers). */
  batchSize: number;
  maxLength: number;
  r: number;
  /** Module names (q_proj, ...), `all-linear` already expanded. */
  targetModules: string[];
  /** LoRA dropout > 0: each adapted module then keeps its masked input and the mask. */
  dropout: boolean;
  gradientCheckpointing: boolean;
  workers: number;
  /**
   * Full fine-tuning: how many parameters train whole (model-spec/train-modules.ts fullTrainableCount). They are
   * float32 Variables whatever the stored dtype, each with a gradient and AdamW's two moments; r is then 0.
   */
  fullParams?: number;
  /** The lora stage's bias, use_dora and modules_to_save: what else the adapter trains (params.ts counts it). */
  bias?: LoraBias;
  useDora?: boolean;
  modulesToSave?: string[];
  /** QLoRA: the layers' linear weights held in 4 bits (the lora stage's quantization; nf4 and fp4 take the same memory). */
  quantization?: 'none' | 'nf4' | 'fp4';
  /** nf4's double_quant: the per-block scales themselves quantized to 8 bits. */
  doubleQuant?: boolean;
}

/** A dtype frozen weights can be resident in. */
export type WeightDtype = 'float32' | 'float16' | 'bfloat16';

/**
 * How attention keeps memory for the backward pass:
 * - `full`: each layer's [B, H, T, S] scores, probabilities and masks stay on the tape (attention.ts's batched route);
 * - `query-chunks`: attention.ts's earlier chunked route: `full` while one layer's scores fit SCORE_CHUNK_BYTES,
 *   above that query chunks recomputed in the backward pass;
 * - `flash`: fused-attention.ts: one op whose tape keeps q, k, v and the output, and whose backward recomputes each
 *   query chunk's probabilities (nothing T² outlives a chunk).
 */
export type AttentionScheme = 'full' | 'query-chunks' | 'flash';
/** What the runtime's attention does (attention.ts calls fused-attention.ts unless setAttentionImpl overrides it). */
export const RUNTIME_ATTENTION: AttentionScheme = 'flash';

/** Where it runs. */
export interface MemoryTarget {
  /** The wasm heap's limit per worker; undefined on backends without one (tfjs-node, cpu). */
  heapBytesPerWorker?: number;
  /** The dtype frozen weights are held in by the backend (see `residentWeightDtype`). */
  residentDtype: WeightDtype;
  /** RAM the process may use (os.totalmem()). */
  ramBytes: number;
  /** Default RUNTIME_ATTENTION. */
  attention?: AttentionScheme;
}

/** The backends the plan tells apart: wasm (ftc's kernels installed, as backend.ts does), the native ones, cpu. */
export type PlanBackend = 'wasm' | 'tensorflow' | 'tensorflow-gpu' | 'cpu';

/**
 * The dtype the runtime holds a checkpoint's frozen linear weights in (the layers' projections and an untied
 * lm_head: weights.ts isFrozenLinearWeight). On wasm, where ftc's kernels multiply 16-bit words, loadCausalLM keeps
 * F16/BF16 linears as stored (keepHalf) and uploadFrozenWeight holds them so (frozen-weight.ts HalfWeight); the
 * native and cpu backends get float32 (uploadFrozenWeight widens them). Full fine-tuning reads every weight widened
 * (its trained ones are float32 Variables). A frozen embed_tokens (and a tied lm_head, the same object) is held in
 * this dtype too (build.ts uploadFrozenEmbedding: its rows and the tied head's product read 16-bit words); norms and
 * biases are float32 everywhere, and `weightBytes` counts them so.
 * `stored`: config.json's dtype / torch_dtype (LlamaConfig.storedDtype); unknown is planned as float32, the larger.
 */
export function residentWeightDtype(stored: WeightDtype | undefined, backend: PlanBackend, opts: { full?: boolean } = {}): WeightDtype {
  if (backend !== 'wasm' || opts.full || stored === undefined) return 'float32';
  return stored;
}

/** The wasm heap per worker: 65535 pages of 64 KiB (src/runtime/kernels/heap.ts's WASM_HEAP_MAX_BYTES). */
export const WASM_HEAP_BYTES = 4294901760;

export interface MemoryEstimate {
  /** Frozen weights in the heap, in their resident dtype (4-bit linears as codes plus float32 scales, none when streamed; norms float32). */
  weights: number;
  /** Adapter parameters and their gradients (float32). */
  adapter: number;
  /** AdamW's two moments. */
  optimizer: number;
  /** What the tape keeps for the backward pass (`activationBytes`). */
  activations: number;
  /** Loss chunks, attention chunks, matmul packing, the largest backward temporaries, an nf4 weight dequantized. */
  scratch: number;
  /** Sum of the above with the heap's slack: what one worker's backend holds at its peak. */
  perWorker: number;
  /** Host RAM while loading: the largest tensor as read (the build takes them one at a time), the whole model for full fine-tuning. */
  hostLoad: number;
  /** The whole process at its peak: a fixed runtime, the workers' backends, and the larger of loading (weights + hostLoad) and training. */
  total: number;
  fitsHeap: boolean;
  fitsRam: boolean;
  /**
   * Where the frozen 4-bit linears are held (nf4/fp4; `resident` otherwise): `resident` in the wasm heap;
   * `streamed` on the host, each staged into the heap for its product (src/runtime/quant/streamed-nf4-weight.ts),
   * chosen when the resident estimate does not fit the heap and the streamed one does. The runtime builds
   * exactly this (loadCausalLM's streamQuantized).
   */
  placement: FrozenPlacement;
  /** The 4-bit linears' host copy when streamed (in total, once per worker: each builds its own model), else 0. */
  hostWeights: number;
  /** One worker's backend with the linears resident: perWorker itself unless streamed (what `ftc plan` compares). */
  residentPerWorker: number;
  /** The most workers (≤ the asked number, ≥ 1 unless even one does not fit, then 0) that fit. */
  maxWorkers: number;
}

const fourBit = (t: TrainingShape): boolean => t.quantization === 'nf4' || t.quantization === 'fp4';

/** Where a model's frozen 4-bit linears live: in the wasm heap, or on the host, staged into it per product. */
export type FrozenPlacement = 'resident' | 'streamed';

/** Fixed costs: a Node process with tfjs loaded, and each further worker thread's isolate and wasm module. */
const PROCESS_BYTES = 160 * 2 ** 20;
const WORKER_BYTES = 60 * 2 ** 20;
/** The heap grows in steps and fragments: what it reaches exceeds what is live at once by about this much. */
const HEAP_SLACK = 1.15;
/** The runtime's chunk sizes (attention.ts SCORE_CHUNK_BYTES, batch-matmul.ts PACK_BYTES). */
const SCORE_CHUNK_BYTES = 32 * 2 ** 20;
const PACK_BYTES = 16 * 2 ** 20;
/**
 * nf4 as bitsandbytes stores it (Params4bit, blocksize 64): 4 bits a weight, a float32 absmax per block;
 * with double quantization the absmax is 8-bit, with one float32 scale per 256 blocks.
 */
const NF4_BLOCK = 64;
const nf4BytesPerWeight = (doubleQuant: boolean): number => 0.5 + (doubleQuant ? 1 / NF4_BLOCK + 4 / (256 * NF4_BLOCK) : 4 / NF4_BLOCK);
/**
 * What the runtime holds per 4-bit weight, double quantization or not: the codes and a float32 absmax per
 * block, rebuilt once from the 8-bit state (nf4-weight.ts, streamed-nf4-weight.ts) so no product decodes it again.
 */
const NF4_HELD_BYTES = 0.5 + 4 / NF4_BLOCK;
/**
 * How the loss (src/runtime/model/loss.ts) cuts the [N, V] float32 logits: row chunks of about LOSS_CHUNK_BYTES
 * (a multiple of 4 rows, the matmul kernel's row tile, at least 4), and each chunk's softmax kept for the backward
 * pass when all of them stay under LOSS_KEEP_BYTES, else recomputed there. The plan and the loss read it here.
 */
const LOSS_CHUNK_BYTES = 32 * 2 ** 20;
const LOSS_KEEP_BYTES = 64 * 2 ** 20;
export function lossChunking(n: number, vocabSize: number): { rows: number; keepSoftmax: boolean } {
  return { rows: Math.max(4, Math.floor(LOSS_CHUNK_BYTES / (F32 * vocabSize) / 4) * 4), keepSoftmax: n * vocabSize * F32 <= LOSS_KEEP_BYTES };
}
/** A loss chunk's [rows, V] float32 temporaries live at once (logits, max-shifted, exp, softmax). */
const LOSS_CHUNK_LIVE = 4;
/** The float32 panels one 4-bit product decodes at a time (src/runtime/quant/nf4-kernel.ts PANEL_BYTES). */
const NF4_PANEL_BYTES = 2 ** 20;

const F32 = 4;
const DTYPE_BYTES: Record<WeightDtype, number> = { float32: 4, float16: 2, bfloat16: 2 };

/**
 * Float32 values the tape keeps per token per layer without checkpointing, attention's T² part aside
 * (llama.ts decoderLayer, counted from its ops: each norm keeps its input and normalised output, rope its
 * input and swapped copy, SwiGLU its gate, sigmoid, their product and the up projection; frozen linears keep
 * nothing (matmul.ts)), and per adapted module (lora.ts: the dropout's input and mask, x·A).
 */
function tapeFloatsPerToken(m: LlamaConfig, t: TrainingShape): number {
  const { hiddenSize: e, intermediateSize: f, numAttentionHeads: h, numKeyValueHeads: kv, headDim: d } = m;
  let floats = 8 * e + 4 * f + 5 * h * d + 5 * kv * d;
  for (const name of t.targetModules) floats += (t.dropout ? 2 * moduleDims(m, name).in : 0) + t.r;
  return floats;
}

/**
 * What one layer's attention keeps for backward beyond the per-token tape, by scheme (S = T in training):
 * - full: ~6.5 float32 [B, H, T, S] tensors (scores, scaled, masked, softmax, their reshapes' saved inputs;
 *   measured as ~830 B·T² for the 4-layer, 8-head reference model);
 * - query chunks: QUERY_CHUNKS_SCORES [B, H, T, S] tensors plus QUERY_CHUNKS_ROWS [B, T, H·D] ones, both
 *   fitted to what bench/memory.ts measured on the reference model at T = 2048 and 4096 (heap 1104 and
 *   2598 MiB, where the per-token tape alone planned 565 and 982): the chunks' recomputation in backward
 *   still holds about half a layer's scores at once and the chunk outputs and gradients per query row;
 * - flash (fused-attention.ts): the tape saves q [B, T, H, D], k and v [B, S, KV, D] and the output [B, T, H, D],
 *   nothing T²; its backward's full-length temporaries (heads-first copies of q, k, v, dO, the dK/dV accumulators
 *   and their next values, the dQ chunks and their concatenation, the transposed gradients: ~FLASH_BACKWARD_ROWS
 *   [B, T, H·D] tensors) and chunk scores (FUSED_CHUNK_BYTES each) live only while one layer's backward runs, so
 *   they are counted in the scratch.
 */
const FULL_SCORES = 6.5;
const QUERY_CHUNKS_SCORES = 0.46;
const QUERY_CHUNKS_ROWS = 29;
const FLASH_BACKWARD_ROWS = 8;
/** fused-attention.ts CHUNK_BYTES: one chunk's [B, H, rows, keys] scores; its passes hold about three at once. */
const FUSED_CHUNK_BYTES = 8 * 2 ** 20;

/**
 * Without checkpointing, tfjs's gradient scope keeps every forward intermediate of every layer until the whole
 * backward pass ends (not only the inputs the tape needs, which tapeFloatsPerToken counts), and the gradients
 * flowing back through a layer come on top: measured on the reference model (bench/memory.ts, T = 512, 1024,
 * 2048, no checkpointing: heap 248, 429, 916 MiB, i.e. ~0.27-0.30 MiB a token against 0.15 planned from the tape
 * alone) about twice the tape. With checkpointing the same factor is the `2 · layer` of the recomputed layer (its
 * intermediates and its gradients), which those rows matched (heap 121, 172, 298 MiB).
 */
const NO_CHECKPOINT_TAPE = 2;

/** Whether attention.ts runs `full` for this share (one layer's scores within SCORE_CHUNK_BYTES). */
const scoresBytes = (m: LlamaConfig, rows: number, len: number): number => rows * m.numAttentionHeads * len * len * F32;
function effectiveScheme(m: LlamaConfig, rows: number, len: number, scheme: AttentionScheme): AttentionScheme {
  return scheme === 'query-chunks' && scoresBytes(m, rows, len) <= SCORE_CHUNK_BYTES ? 'full' : scheme;
}

/**
 * Activation memory of one worker's step, in bytes: a function of rows (its share of the batch), T (max
 * length), the model's dims, gradient checkpointing and the attention scheme. With n = rows·T tokens, E the
 * hidden size, L layers:
 *
 *   layer(T)  = 4·n·tapeFloatsPerToken + attentionKept(T)
 *   attentionKept: full       4·FULL_SCORES·rows·H·T²
 *                  query-chunks 4·(QUERY_CHUNKS_SCORES·rows·H·T² + QUERY_CHUNKS_ROWS·n·H·D)
 *                  flash      4·n·H
 *   no checkpointing:  L·layer(T) + 2·4·n·E            (every layer's tape, the final norm's input and output)
 *   checkpointing:     L·4·n·E + 2·layer(T)            (each layer's input; one layer recomputed, with its gradients)
 */
export function activationBytes(m: LlamaConfig, t: TrainingShape, rows: number, scheme: AttentionScheme): number {
  const n = rows * t.maxLength;
  const s = effectiveScheme(m, rows, t.maxLength, scheme);
  const scores = scoresBytes(m, rows, t.maxLength);
  const rowsBytes = n * m.numAttentionHeads * m.headDim * F32; // one [B, T, H·D] float32 tensor
  const attentionKept = s === 'full' ? FULL_SCORES * scores
    : s === 'query-chunks' ? QUERY_CHUNKS_SCORES * scores + QUERY_CHUNKS_ROWS * rowsBytes
    : n * (2 * m.numAttentionHeads + 2 * m.numKeyValueHeads) * m.headDim * F32; // q, out; k, v
  const layer = tapeFloatsPerToken(m, t) * n * F32 + attentionKept;
  return t.gradientCheckpointing
    ? m.numHiddenLayers * n * m.hiddenSize * F32 + 2 * layer
    : NO_CHECKPOINT_TAPE * m.numHiddenLayers * layer + 2 * n * m.hiddenSize * F32;
}

/**
 * Frozen weights as held (build.ts): the layers' linears, an untied lm_head and a frozen embed_tokens in the
 * resident dtype (nf4 quantizes the layers' linears only, base-4bit.ts quantizedLinearNames); an embed_tokens that
 * modules_to_save trains is a float32 Variable; the vectors (norms, biases) are float32 on every backend.
 */
function weightBytes(m: LlamaConfig, t: TrainingShape, target: MemoryTarget): number {
  const g = baseParameterGroups(m);
  const resident = DTYPE_BYTES[target.residentDtype];
  const linear = fourBit(t) ? NF4_HELD_BYTES : resident;
  const embedTokens = m.vocabSize * m.hiddenSize;
  // Fully trained parameters are float32 Variables, counted with the adapter (values, gradients, moments); beside
  // the matrices the vectors (norms, biases) are a rounding error, so they stay here either way.
  const full = t.fullParams ?? 0;
  const frozenEmbeddings = Math.max(0, g.embeddings - full);
  const frozenLinears = Math.max(0, g.linears - Math.max(0, full - g.embeddings));
  const frozenEmbed = Math.min(frozenEmbeddings, embedTokens);
  const frozenHead = frozenEmbeddings - frozenEmbed; // an untied lm_head: a frozen linear
  return frozenLinears * linear + frozenHead * resident + frozenEmbed * embedBytes(t, target) + g.vectors * F32;
}

/** Bytes per value of embed_tokens as build.ts holds it: the resident dtype when frozen, float32 when modules_to_save trains it. */
function embedBytes(t: TrainingShape, target: MemoryTarget): number {
  return t.modulesToSave?.includes('embed_tokens') ? F32 : DTYPE_BYTES[target.residentDtype];
}

/**
 * Host memory while loading, beyond a streamed base's host copy. loadCausalLM's LoRA build takes one tensor at a time from its shard (weights.ts
 * openWeights) and drops it once uploaded, so the host holds the largest one as read: a 16-bit linear as stored
 * (2 bytes) on wasm, else widened to float32, embed_tokens likewise (weights.ts isFrozenMatrix). Full fine-tuning reads every weight, widened,
 * before building: the whole model in float32 on the host.
 */
function hostLoadBytes(m: LlamaConfig, t: TrainingShape, target: MemoryTarget, placement: FrozenPlacement): number {
  if ((t.fullParams ?? 0) > 0) {
    const g = baseParameterGroups(m);
    return (g.linears + g.embeddings + g.vectors) * F32;
  }
  const linear = DTYPE_BYTES[target.residentDtype];
  const widestLinear = Math.max(m.hiddenSize * m.intermediateSize, m.hiddenSize * m.numAttentionHeads * m.headDim);
  const head = m.tieWordEmbeddings ? 0 : m.vocabSize * m.hiddenSize * linear;
  const oneTensor = Math.max(m.vocabSize * m.hiddenSize * embedBytes(t, target), head, fourBit(t) ? 0 : widestLinear * linear);
  // A 4-bit base is read whole from the lora stage's cache (base-4bit.ts readQuantizedBase) and held until the build
  // ends; streamed, that state is what stays on the host (hostWeights), so it is not counted twice.
  const quantizedState = fourBit(t) && placement === 'resident' ? baseParameterGroups(m).linears * nf4BytesPerWeight(t.doubleQuant === true) : 0;
  return oneTensor + quantizedState;
}

export function estimateMemory(m: LlamaConfig, t: TrainingShape, target: MemoryTarget): MemoryEstimate {
  const workers = Math.max(1, t.workers);
  const at = workerEstimate(m, t, target, workers);
  let maxWorkers = 0;
  for (let w = 1; w <= workers; w++) {
    const e = w === workers ? at : workerEstimate(m, t, target, w);
    if (e.fitsHeap && e.fitsRam) maxWorkers = w;
  }
  return { ...at, maxWorkers };
}

/** The most workers, up to `wanted`, whose estimate fits (at least 1: one worker is what runs when none fits, and fails clearly). */
export function workersThatFit(m: LlamaConfig, t: TrainingShape, target: MemoryTarget, wanted: number): number {
  return Math.max(1, estimateMemory(m, { ...t, workers: wanted }, target).maxWorkers);
}

/**
 * The estimate with the placement the runtime will use: resident, unless the model is nf4 on a backend with a
 * heap limit, the resident estimate does not fit that heap, and the streamed one does.
 */
function workerEstimate(m: LlamaConfig, t: TrainingShape, target: MemoryTarget, workers: number): Omit<MemoryEstimate, 'maxWorkers'> {
  const resident = placedEstimate(m, t, target, workers, 'resident');
  if (!fourBit(t) || target.heapBytesPerWorker === undefined || resident.fitsHeap) return resident;
  const streamed = placedEstimate(m, t, target, workers, 'streamed');
  return streamed.fitsHeap ? { ...streamed, residentPerWorker: resident.perWorker } : resident;
}

/**
 * What streaming moves: the 4-bit linears' heap bytes go to the host, and the heap keeps a staging copy of the
 * largest one (codes, f32 absmax and tables, uploaded per product and freed; streamed-nf4-weight.ts). The host
 * copy is the file's state (quantized base as read) plus the f32 absmax each weight rebuilds from it.
 */
function streamedShift(m: LlamaConfig, t: TrainingShape): { heapWeights: number; staging: number; host: number } {
  const linears = baseParameterGroups(m).linears;
  const largest = Math.max(...LINEAR_MODULES.map((n) => {
    const d = moduleDims(m, n);
    return d.in * d.out;
  }));
  // At load the file's 8-bit absmax (double quant) is read too, until each weight has rebuilt its float32 one.
  const atLoad = t.doubleQuant === true ? nf4BytesPerWeight(true) - 0.5 : 0;
  return { heapWeights: linears * NF4_HELD_BYTES, staging: largest * NF4_HELD_BYTES, host: linears * (NF4_HELD_BYTES + atLoad) };
}

function placedEstimate(m: LlamaConfig, t: TrainingShape, target: MemoryTarget, workers: number, placement: FrozenPlacement): Omit<MemoryEstimate, 'maxWorkers'> {
  const rows = Math.ceil(t.batchSize / workers); // a worker's share of a micro-batch
  const n = rows * t.maxLength; // tokens per worker step
  const scheme = effectiveScheme(m, rows, t.maxLength, target.attention ?? RUNTIME_ATTENTION);
  const shift = placement === 'streamed' ? streamedShift(m, t) : undefined;
  const weights = weightBytes(m, t, target) - (shift ? shift.heapWeights : 0);

  const adapterParams = (t.fullParams ?? 0) + (t.r > 0 ? loraParameterCount(m, t.targetModules, t.r, t.bias, { useDora: t.useDora, modulesToSave: t.modulesToSave }) : 0);
  const adapter = 2 * adapterParams * F32; // values + gradients
  const optimizer = 2 * adapterParams * F32; // AdamW m and v
  const activations = activationBytes(m, t, rows, scheme);

  // One chunk's temporaries, and the kept softmax of all of them when it is kept (loss.ts disposes each chunk's
  // temporaries before the next; until it did, ~4 whole [N, V] were live at once).
  const chunking = lossChunking(n, m.vocabSize);
  const loss = LOSS_CHUNK_LIVE * Math.min(chunking.rows, n) * m.vocabSize * F32 + (chunking.keepSoftmax ? n * m.vocabSize * F32 : 0);
  const attention = scheme === 'flash'
    ? 3 * FUSED_CHUNK_BYTES + FLASH_BACKWARD_ROWS * n * m.numAttentionHeads * m.headDim * F32
    : 3 * (scheme === 'full' ? scoresBytes(m, rows, t.maxLength) : SCORE_CHUNK_BYTES);
  const widest = Math.max(m.intermediateSize, m.numAttentionHeads * m.headDim, m.hiddenSize);
  // A 4-bit linear is decoded panel by panel inside its product (nf4-kernel.ts PANEL_BYTES), never whole.
  const dequantized = fourBit(t) ? NF4_PANEL_BYTES : 0;
  const scratch = loss + attention + PACK_BYTES + 3 * n * widest * F32 + dequantized + (shift ? shift.staging : 0);

  const perWorker = Math.round((weights + adapter + optimizer + activations + scratch) * HEAP_SLACK);
  // Streamed, each worker builds its own model, so each holds its own host copy of the linears.
  const hostWeights = shift ? shift.host : 0;
  const hostLoad = hostLoadBytes(m, t, target, placement);
  // The host copy of a tensor being uploaded lives only while loading, beside the weights uploaded so far and no
  // activations (bench/memory.ts: Qwen2.5-0.5B peaked at 1827 MiB RSS after loading, 2659 MiB in training), so the
  // process peak is the larger of the two phases, not their sum; a streamed base's host copy lives through both.
  const total = PROCESS_BYTES + (workers - 1) * (WORKER_BYTES + perWorker) + Math.max(perWorker, weights + hostLoad) + workers * hostWeights;
  const fitsHeap = target.heapBytesPerWorker === undefined || perWorker <= target.heapBytesPerWorker;
  const fitsRam = total <= target.ramBytes;
  return { weights, adapter, optimizer, activations, scratch, perWorker, hostLoad, total, fitsHeap, fitsRam, placement, hostWeights, residentPerWorker: perWorker };
}

/** The stages of the estimate with their figures, one line each, for `ftc plan`. */
export function describeEstimate(e: MemoryEstimate, target: MemoryTarget, t?: TrainingShape): string[] {
  const mib = (b: number) => `${(b / 2 ** 20).toFixed(0)} MiB`;
  const limit = target.heapBytesPerWorker === undefined ? 'no heap limit' : `heap limit ${mib(target.heapBytesPerWorker)}`;
  const held = t && fourBit(t) ? `${t.quantization} linears, ${target.residentDtype} embeddings` : target.residentDtype;
  return [
    `weights     ${mib(e.weights)} (${held})`,
    `adapter     ${mib(e.adapter)} (values and gradients)`,
    `optimizer   ${mib(e.optimizer)} (AdamW moments)`,
    `activations ${mib(e.activations)}`,
    `scratch     ${mib(e.scratch)}`,
    `per worker  ${mib(e.perWorker)} (${limit}): ${e.fitsHeap ? 'fits' : 'does not fit'}`,
    ...(t && fourBit(t) ? [placementLine(e)] : []),
    `process     ${mib(e.total)} of ${mib(target.ramBytes)} RAM${t && t.workers > 1 ? ` with ${t.workers} workers` : ''}: ${e.fitsRam ? 'fits' : 'does not fit'}`,
  ];
}

/** A 4-bit base's placement for `ftc plan`: resident, or streamed with the resident figure it replaced. */
function placementLine(e: MemoryEstimate): string {
  const mib = (b: number) => `${(b / 2 ** 20).toFixed(0)} MiB`;
  return e.placement === 'streamed'
    ? `placement   streamed: 4-bit linears on the host (${mib(e.hostWeights)}), staged into the heap one at a time; resident would need ${mib(e.residentPerWorker)} per worker`
    : `placement   resident: 4-bit linears in the heap`;
}
