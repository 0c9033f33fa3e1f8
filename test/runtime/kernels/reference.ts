/**
 * Independent reference for the kernel tests: a naive triple loop in float64 over plain arrays, with
 * tfjs's matMul semantics (transpose of the last two dims, numpy broadcasting of the leading dims).
 */
export interface Operand {
  shape: number[];
  data: Float32Array;
}

/** Deterministic values in [-1, 1) from a tiny LCG, so failures reproduce. */
export function seeded(shape: number[], seed: number): Operand {
  const n = shape.reduce((x, y) => x * y, 1);
  const data = new Float32Array(n);
  let s = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    data[i] = s / 2 ** 31 - 1;
  }
  return { shape, data };
}

export function naiveMatMul(a: Operand, b: Operand, transposeA: boolean, transposeB: boolean): Operand {
  const ra = a.shape.length;
  const rb = b.shape.length;
  const [ar, ac] = [a.shape[ra - 2], a.shape[ra - 1]];
  const [br, bc] = [b.shape[rb - 2], b.shape[rb - 1]];
  const M = transposeA ? ac : ar;
  const K = transposeA ? ar : ac;
  const N = transposeB ? br : bc;
  const outerA = a.shape.slice(0, -2);
  const outerB = b.shape.slice(0, -2);
  const rank = Math.max(outerA.length, outerB.length);
  const padA = [...new Array(rank - outerA.length).fill(1), ...outerA];
  const padB = [...new Array(rank - outerB.length).fill(1), ...outerB];
  const outer = padA.map((d, i) => Math.max(d, padB[i]));
  const batches = outer.reduce((x, y) => x * y, 1);
  const out = new Float32Array(batches * M * N);
  for (let t = 0; t < batches; t++) {
    // Unravel t over `outer`, then ravel into each input, pinning broadcast dims to 0.
    let rest = t;
    let ia = 0;
    let ib = 0;
    let strideA = 1;
    let strideB = 1;
    for (let d = rank - 1; d >= 0; d--) {
      const idx = rest % outer[d];
      rest = Math.floor(rest / outer[d]);
      ia += (padA[d] === 1 ? 0 : idx) * strideA;
      ib += (padB[d] === 1 ? 0 : idx) * strideB;
      strideA *= padA[d];
      strideB *= padB[d];
    }
    const aOff = ia * ar * ac;
    const bOff = ib * br * bc;
    for (let i = 0; i < M; i++) {
      for (let j = 0; j < N; j++) {
        let sum = 0;
        for (let k = 0; k < K; k++) {
          const x = transposeA ? a.data[aOff + k * ac + i] : a.data[aOff + i * ac + k];
          const y = transposeB ? b.data[bOff + j * bc + k] : b.data[bOff + k * bc + j];
          sum += x * y;
        }
        out[t * M * N + i * N + j] = sum;
      }
    }
  }
  return { shape: [...outer, M, N], data: out };
}
