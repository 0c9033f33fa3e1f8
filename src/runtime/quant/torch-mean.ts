/**
 * `tensor.mean()` of a 1-D f32 tensor exactly as PyTorch computes it on one CPU thread: SumKernel.cpp's cascade
 * sum in f32 (four interleaved accumulators of 8-lane vectors, each summed through four levels of 16-element
 * chunks), then one f32 division by the length. Double quantization subtracts this mean (the `offset`) from every
 * absmax before quantizing them, so a different summation order would change the stored bytes.
 *
 * Fixed to what torch runs on an AVX2 CPU (Vectorized<float> has 8 lanes); on AVX-512 torch uses 16 lanes and, with
 * several threads and over 32768 values, splits the sum per thread, so its offset can differ in the last bits.
 */

const LANES = 8;
const ILP = 4;
const LEVELS = 4;

/** utils::CeilLog2 */
function ceilLog2(x: number): number {
  return x <= 2 ? 1 : 32 - Math.clz32(x - 1);
}

/**
 * multi_row_sum: `rows` interleaved sums of `size` elements of `width` lanes; `at(i, row, lane)` is the value.
 * Returns rows × width sums (row-major).
 */
function multiRowSum(at: (i: number, row: number, lane: number) => number, rows: number, width: number, size: number): Float32Array {
  const levelPower = Math.max(4, Math.floor(ceilLog2(size) / LEVELS));
  const levelStep = 1 << levelPower;
  const levelMask = levelStep - 1;
  const n = rows * width;
  const acc = Array.from({ length: LEVELS }, () => new Float32Array(n));
  const addElement = (i: number): void => {
    for (let r = 0; r < rows; r++) for (let l = 0; l < width; l++) acc[0][r * width + l] += at(i, r, l);
  };
  let i = 0;
  while (i + levelStep <= size) {
    for (let j = 0; j < levelStep; j++, i++) addElement(i);
    for (let j = 1; j < LEVELS; j++) {
      for (let k = 0; k < n; k++) {
        acc[j][k] += acc[j - 1][k];
        acc[j - 1][k] = 0;
      }
      if ((i & (levelMask << (j * levelPower))) !== 0) break;
    }
  }
  for (; i < size; i++) addElement(i);
  for (let j = 1; j < LEVELS; j++) for (let k = 0; k < n; k++) acc[0][k] += acc[j][k];
  return acc[0];
}

/** row_sum over `size` elements of `width` lanes: ILP interleaved rows, the remainder into row 0, rows folded. */
function rowSum(at: (i: number, lane: number) => number, width: number, size: number): Float32Array {
  const sizeIlp = Math.floor(size / ILP);
  const partial = multiRowSum((i, row, lane) => at(i * ILP + row, lane), ILP, width, sizeIlp);
  const sum = partial.subarray(0, width); // row 0 (Float32Array keeps every += in f32)
  for (let i = sizeIlp * ILP; i < size; i++) for (let l = 0; l < width; l++) sum[l] += at(i, l);
  for (let k = 1; k < ILP; k++) for (let l = 0; l < width; l++) sum[l] += partial[k * width + l];
  return sum;
}

/** torch.sum of a contiguous f32 vector, one thread, AVX2. */
export function torchSum(x: Float32Array): number {
  const out = new Float32Array(1);
  if (x.length < LANES) {
    out[0] = rowSum((i) => x[i], 1, x.length)[0];
    return out[0];
  }
  // vectorized_inner_sum: 8-lane vectors, then the scalar tail, then the lanes in order
  const vectors = Math.floor(x.length / LANES);
  const lanes = rowSum((i, lane) => x[i * LANES + lane], LANES, vectors);
  for (let k = vectors * LANES; k < x.length; k++) out[0] += x[k];
  for (let l = 0; l < LANES; l++) out[0] += lanes[l];
  return out[0];
}

/** torch.mean of a contiguous f32 vector: the sum, then one f32 division. */
export function torchMean(x: Float32Array): number {
  return Math.fround(torchSum(x) / x.length);
}
