/**
 * The memory plan: a pure estimate, before anything runs, of what one training worker (LoRA, or full
 * fine-tuning with `fullParams`) holds, and how many workers fit in the backend's limits (the wasm heap per
 * worker, the machine's RAM).
 *
 * It needs numbers only (no tfjs, no files), so `ftc check`/`ftc plan` and the runtime compute the same
 * figures. The input interfaces are the minimal numeric facts; the config parser maps config.json onto them.
 * Every figure is in bytes. Where a formula counts tensors the runtime keeps, the runtime file is named.
 */
import type { LlamaConfig } from './config.js';
import { LINEAR_MODULES, moduleDims } from './modules.js';

/** The numbers of a Llama-family model the estimate needs (config.json's). */
export interface ModelDims {
  hiddenSize: number;
  intermediateSize: number;
  numHiddenLayers: number;
  numAttentionHeads: number;
  numKeyValueHeads: number;
  headDim: number;
  vocabSize: number;
  tieWordEmbeddings: boolean;
  /** q/k/v biases (Qwen2's, or Llama's attention_bias). */
  qkvBias: boolean;
}

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
}

/** Where it runs. */
export interface MemoryTarget {
  /** The wasm heap's limit per worker; undefined on backends without one (tfjs-node, cpu). */
  heapBytesPerWorker?: number;
  /** Bytes per element of frozen weights in backend memory: 4 while they are widened to float32 on load. */
  weightBytes: number;
  /** RAM the process may use (os.totalmem()). */
  ramBytes: number;
}

/** A parsed config.json's numbers, as the estimate reads them. */
export function modelDimsOf(c: LlamaConfig): ModelDims {
  return {
    hiddenSize: c.hiddenSize, intermediateSize: c.intermediateSize, numHiddenLayers: c.numHiddenLayers,
    numAttentionHeads: c.numAttentionHeads, numKeyValueHeads: c.numKeyValueHeads, headDim: c.headDim,
    vocabSize: c.vocabSize, tieWordEmbeddings: c.tieWordEmbeddings, qkvBias: c.attentionBias,
  };
}

/** The wasm heap per worker: 65535 pages of 64 KiB (src/runtime/kernels/heap.ts's WASM_HEAP_MAX_BYTES). */
export const WASM_HEAP_BYTES = 4294901760;

export interface MemoryEstimate {
  /** Frozen weights in their resident dtype (norms float32). */
  weights: number;
  /** Adapter parameters and their gradients (float32). */
  adapter: number;
  /** AdamW's two moments. */
  optimizer: number;
  /** What the tape keeps for the backward pass, plus one layer's transients. */
  activations: number;
  /** Loss chunks, attention chunks, matmul packing, the largest backward temporaries. */
  scratch: number;
  /** Sum of the above: what one worker's backend holds at its peak. */
  perWorker: number;
  /** Host RAM while loading: a float32 copy of the weights (safetensors.ts widens on read). */
  hostLoad: number;
  /** The whole process at its peak: the workers' backends, the load's host copy, a fixed runtime. */
  total: number;
  fitsHeap: boolean;
  fitsRam: boolean;
  /** The most workers (≤ the asked number, ≥ 1 unless even one does not fit, then 0) that fit. */
  maxWorkers: number;
}

/** Fixed costs: a Node process with tfjs loaded, and each further worker thread's isolate and wasm module. */
const PROCESS_BYTES = 160 * 2 ** 20;
const WORKER_BYTES = 60 * 2 ** 20;
/** The heap grows in steps and fragments: what it reaches exceeds what is live at once by about this much. */
const HEAP_SLACK = 1.15;
/** The runtime's chunk sizes (loss.ts CHUNK_BYTES/KEEP_BYTES, attention.ts SCORE_CHUNK_BYTES, batch-matmul.ts PACK_BYTES). */
const LOSS_CHUNK_BYTES = 32 * 2 ** 20;
const LOSS_KEEP_BYTES = 64 * 2 ** 20;
const SCORE_CHUNK_BYTES = 32 * 2 ** 20;
const PACK_BYTES = 16 * 2 ** 20;

const F32 = 4;

/** Frozen parameters: embeddings (twice when untied), the linears, biases and norms. */
export function parameterCount(m: ModelDims): { matrices: number; vectors: number } {
  const perLayer = LINEAR_MODULES.reduce((s, name) => { const d = moduleDims(m, name); return s + d.in * d.out; }, 0);
  const embed = m.vocabSize * m.hiddenSize * (m.tieWordEmbeddings ? 1 : 2);
  const bias = m.qkvBias ? (m.numAttentionHeads + 2 * m.numKeyValueHeads) * m.headDim : 0;
  return { matrices: embed + m.numHiddenLayers * perLayer, vectors: m.numHiddenLayers * (2 * m.hiddenSize + bias) + m.hiddenSize };
}

/**
 * Float32 values the tape keeps per token per layer without checkpointing (llama.ts decoderLayer, counted
 * from its ops: each norm keeps its input and normalised output, rope its input and swapped copy, SwiGLU its
 * gate, sigmoid, their product and the up projection; frozen linears keep nothing (matmul.ts)), and per adapted module (lora.ts: the
 * dropout's input and mask, x·A).
 */
function tapeFloatsPerToken(m: ModelDims, t: TrainingShape): number {
  const { hiddenSize: e, intermediateSize: f, numAttentionHeads: h, numKeyValueHeads: kv, headDim: d } = m;
  const q = h * d;
  const k = kv * d;
  let floats = 8 * e + 4 * f + 5 * q + 5 * k;
  for (const name of t.targetModules) {
    floats += (t.dropout ? 2 * moduleDims(m, name).in : 0) + t.r;
  }
  return floats;
}

/** Scores [B, H, T, S] of one layer, and whether attention.ts computes them in query chunks. */
function attentionScores(m: ModelDims, rows: number, len: number): { bytes: number; chunked: boolean } {
  const bytes = rows * m.numAttentionHeads * len * len * F32;
  return { bytes, chunked: bytes > SCORE_CHUNK_BYTES };
}

export function estimateMemory(m: ModelDims, t: TrainingShape, target: MemoryTarget): MemoryEstimate {
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
export function workersThatFit(m: ModelDims, t: TrainingShape, target: MemoryTarget, wanted: number): number {
  return Math.max(1, estimateMemory(m, { ...t, workers: wanted }, target).maxWorkers);
}

function workerEstimate(m: ModelDims, t: TrainingShape, target: MemoryTarget, workers: number): Omit<MemoryEstimate, 'maxWorkers'> {
  const rows = Math.ceil(t.batchSize / workers); // a worker's share of a micro-batch
  const n = rows * t.maxLength; // tokens per worker step
  const params = parameterCount(m);
  // Fully trained parameters are float32 Variables, counted under `adapter` (values + gradients); beside the
  // matrices the vectors (norms, biases) are a rounding error, so they stay under `weights` either way.
  const full = t.fullParams ?? 0;
  const weights = Math.max(0, params.matrices - full) * target.weightBytes + params.vectors * F32;

  const adapterParams = full + m.numHiddenLayers * t.targetModules.reduce((s, name) => { const d = moduleDims(m, name); return s + t.r * (d.in + d.out); }, 0);
  const adapter = 2 * adapterParams * F32; // values + gradients
  const optimizer = 2 * adapterParams * F32; // AdamW m and v

  const perLayer = tapeFloatsPerToken(m, t) * n * F32;
  const scores = attentionScores(m, rows, t.maxLength);
  // Unchunked attention keeps about 6.5 [B,H,T,S] tensors per layer (scores, scaled, masked, softmax, its
  // reshapes' saved inputs), measured as ~830 B·T² for the 4-layer, 8-head reference model.
  const scoresKept = scores.chunked ? 0 : 6.5 * scores.bytes;
  const activations = t.gradientCheckpointing
    ? m.numHiddenLayers * n * m.hiddenSize * F32 + 2 * (perLayer + scoresKept) // inputs kept; one layer recomputed, with its gradients
    : m.numHiddenLayers * (perLayer + scoresKept) + n * m.hiddenSize * F32 * 2;

  // loss.ts: ~4 live [rows, V] tensors per chunk, plus the kept softmax when it is small.
  const lossRows = Math.min(n, Math.max(4, Math.floor(LOSS_CHUNK_BYTES / (F32 * m.vocabSize))));
  const keptSoftmax = n * m.vocabSize * F32 <= LOSS_KEEP_BYTES ? n * m.vocabSize * F32 : 0;
  const loss = 4 * lossRows * m.vocabSize * F32 + keptSoftmax;
  const attention = 3 * (scores.chunked ? SCORE_CHUNK_BYTES : scores.bytes);
  const widest = Math.max(m.intermediateSize, m.numAttentionHeads * m.headDim, m.hiddenSize);
  const scratch = loss + attention + PACK_BYTES + 3 * n * widest * F32;

  const perWorker = Math.round((weights + adapter + optimizer + activations + scratch) * HEAP_SLACK);
  const hostLoad = (params.matrices + params.vectors) * F32;
  const total = PROCESS_BYTES + (workers - 1) * WORKER_BYTES + workers * perWorker + hostLoad;
  const fitsHeap = target.heapBytesPerWorker === undefined || perWorker <= target.heapBytesPerWorker;
  const fitsRam = total <= target.ramBytes;
  return { weights, adapter, optimizer, activations, scratch, perWorker, hostLoad, total, fitsHeap, fitsRam };
}

/** The stages of the estimate with their figures, one line each, for `ftc plan`. */
export function describeEstimate(e: MemoryEstimate, target: MemoryTarget): string[] {
  const mib = (b: number) => `${(b / 2 ** 20).toFixed(0)} MiB`;
  const limit = target.heapBytesPerWorker === undefined ? 'no heap limit' : `heap limit ${mib(target.heapBytesPerWorker)}`;
  return [
    `weights     ${mib(e.weights)}`,
    `adapter     ${mib(e.adapter)}`,
    `optimizer   ${mib(e.optimizer)}`,
    `activations ${mib(e.activations)}`,
    `scratch     ${mib(e.scratch)}`,
    `per worker  ${mib(e.perWorker)} (${limit}): ${e.fitsHeap ? 'fits' : 'does not fit'}`,
    `process     ${mib(e.total)} of ${mib(target.ramBytes)} RAM: ${e.fitsRam ? 'fits' : 'does not fit'}`,
  ];
}
