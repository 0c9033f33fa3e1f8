// Fused inference kernels for decoding with a KV cache (src/runtime/kernels/decode.ts registers them):
// each replaces a chain of tfjs ops whose per-op cost (tens of µs) dominates a one-token step of a small model.
//   rmsNorm    y = x / √(mean(x²) + ε) · w, per row                    (5 ops: square, mean, add, rsqrt, mul ×2)
//   swiglu     y = silu(g) · u                                         (3 ops: sigmoid, mul ×2)
//   rope       y = x·cos + rotate_half(x)·sin, per head                (6 ops: reshapes, swap product, mul ×2, add)
//   attention  softmax(q·kᵀ/√D, causal) · v over the cache, GQA heads  (~15 ops: transposes, products, mask, softmax)
// Like matmul.ts: no static data, no allocation; pointers are byte offsets into the backend's memory. exp is
// computed here (expv), since AssemblyScript's Mathf.exp reads a lookup table from a data segment.

/** Σ of the four lanes. */
// @ts-ignore: decorator
@inline
function lanes(v: v128): f32 {
  return f32x4.extract_lane(v, 0) + f32x4.extract_lane(v, 1) + f32x4.extract_lane(v, 2) + f32x4.extract_lane(v, 3);
}

/**
 * e^x for four lanes, to within ~2 ulp on [-87, 88]: 2^(x·log2 e) split into 2^n (the exponent bits) and
 * 2^f, f ∈ [-½, ½], by its Taylor polynomial in f·ln 2 to degree 7 (remainder < 2e-8). Below −87 the result
 * flushes towards 2^−126·2^f (softmax only feeds it x − max ≤ 0, where that is 0 to f32's eye against 1).
 */
// @ts-ignore: decorator
@inline
function expv(x: v128): v128 {
  let t = f32x4.mul(x, f32x4.splat(1.4426950408889634));
  t = f32x4.max(f32x4.min(t, f32x4.splat(127)), f32x4.splat(-126));
  const n = f32x4.nearest(t);
  const r = f32x4.mul(f32x4.sub(t, n), f32x4.splat(0.6931471805599453)); // f·ln 2, |r| ≤ 0.347
  let p = f32x4.splat(1.0 / 5040);
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(1.0 / 720));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(1.0 / 120));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(1.0 / 24));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(1.0 / 6));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(0.5));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(1));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(1));
  return i32x4.add(p, i32x4.shl(i32x4.trunc_sat_f32x4_s(n), 23));
}

/** The scalar e^x, through lane 0 of expv (one formula for vector bodies and scalar tails). */
// @ts-ignore: decorator
@inline
function exp1(x: f32): f32 {
  return f32x4.extract_lane(expv(f32x4.splat(x)), 0);
}

/** y [rows, E] = x / √(mean(x²) + eps) · w, for each row of x [rows, E]; w [E]. */
export function rmsNorm(x: usize, w: usize, y: usize, rows: i32, E: i32, eps: f32): void {
  const E4 = E & ~3;
  const rowBytes: usize = <usize>E << 2;
  for (let r: i32 = 0; r < rows; r++) {
    const xr = x + <usize>r * rowBytes;
    const yr = y + <usize>r * rowBytes;
    let acc = f32x4.splat(0);
    for (let i: i32 = 0; i < E4; i += 4) {
      const v = v128.load(xr + (<usize>i << 2));
      acc = f32x4.add(acc, f32x4.mul(v, v));
    }
    let ss = lanes(acc);
    for (let i: i32 = E4; i < E; i++) {
      const v = load<f32>(xr + (<usize>i << 2));
      ss += v * v;
    }
    const scale: f32 = 1 / Mathf.sqrt(ss / <f32>E + eps);
    const s = f32x4.splat(scale);
    for (let i: i32 = 0; i < E4; i += 4) {
      const o: usize = <usize>i << 2;
      v128.store(yr + o, f32x4.mul(f32x4.mul(v128.load(xr + o), s), v128.load(w + o)));
    }
    for (let i: i32 = E4; i < E; i++) {
      const o: usize = <usize>i << 2;
      store<f32>(yr + o, load<f32>(xr + o) * scale * load<f32>(w + o));
    }
  }
}

/** y [count] = g · sigmoid(g) · u, elementwise. */
export function swiglu(g: usize, u: usize, y: usize, count: i32): void {
  const C4 = count & ~3;
  const one = f32x4.splat(1);
  for (let i: i32 = 0; i < C4; i += 4) {
    const o: usize = <usize>i << 2;
    const gv = v128.load(g + o);
    const sig = f32x4.div(one, f32x4.add(one, expv(f32x4.neg(gv))));
    v128.store(y + o, f32x4.mul(f32x4.mul(gv, sig), v128.load(u + o)));
  }
  for (let i: i32 = C4; i < count; i++) {
    const o: usize = <usize>i << 2;
    const gv = load<f32>(g + o);
    store<f32>(y + o, (gv / (1 + exp1(-gv))) * load<f32>(u + o));
  }
}

/**
 * Rotary embedding, Hugging Face's rotate_half layout: x [rows, heads, D] with row r at position r mod T
 * (rows = B·T); cos, sin [T, D], sin carrying rotate_half's sign (−sin on the first half, +sin on the second):
 * y[i] = x[i]·cos[i] + x[i ± D/2]·sin[i]. D is even.
 */
export function rope(x: usize, cos: usize, sin: usize, y: usize, rows: i32, heads: i32, D: i32, T: i32): void {
  const half = D >> 1;
  const halfBytes: usize = <usize>half << 2;
  const vec = (half & 3) == 0;
  for (let r: i32 = 0; r < rows; r++) {
    const table: usize = <usize>(r % T) * (<usize>D << 2);
    const c = cos + table;
    const s = sin + table;
    for (let h: i32 = 0; h < heads; h++) {
      const base: usize = (<usize>r * <usize>heads + <usize>h) * (<usize>D << 2);
      const lo = x + base;
      const hi = lo + halfBytes;
      const ylo = y + base;
      const yhi = ylo + halfBytes;
      if (vec) {
        for (let i: i32 = 0; i < half; i += 4) {
          const o: usize = <usize>i << 2;
          const a = v128.load(lo + o);
          const b = v128.load(hi + o);
          v128.store(ylo + o, f32x4.add(f32x4.mul(a, v128.load(c + o)), f32x4.mul(b, v128.load(s + o))));
          v128.store(yhi + o, f32x4.add(f32x4.mul(b, v128.load(c + halfBytes + o)), f32x4.mul(a, v128.load(s + halfBytes + o))));
        }
      } else {
        for (let i: i32 = 0; i < half; i++) {
          const o: usize = <usize>i << 2;
          const a = load<f32>(lo + o);
          const b = load<f32>(hi + o);
          store<f32>(ylo + o, a * load<f32>(c + o) + b * load<f32>(s + o));
          store<f32>(yhi + o, b * load<f32>(c + halfBytes + o) + a * load<f32>(s + halfBytes + o));
        }
      }
    }
  }
}

/**
 * Causal attention over a KV cache, one query vector at a time: q [B, T, H, D] holds the T newest positions,
 * k, v [B, S, KV, D] all S ≥ T of them, so query t sits at position S − T + t and sees keys 0 ..= that; query
 * head h reads key/value head ⌊h / (H / KV)⌋. y [B, T, H, D]. `scores` is S floats of scratch.
 */
export function attention(q: usize, k: usize, v: usize, y: usize, B: i32, T: i32, S: i32, H: i32, KV: i32, D: i32, scale: f32, scores: usize): void {
  const group = H / KV;
  const D4 = D & ~3;
  const dBytes: usize = <usize>D << 2;
  const keyStride: usize = <usize>KV * dBytes; // bytes between positions s and s + 1 of one kv head
  for (let b: i32 = 0; b < B; b++) {
    for (let t: i32 = 0; t < T; t++) {
      const seen = S - T + t + 1;
      for (let h: i32 = 0; h < H; h++) {
        const g = h / group;
        const qv = q + ((<usize>(b * T + t) * <usize>H + <usize>h) * dBytes);
        const kBase = k + (<usize>b * <usize>S * <usize>KV + <usize>g) * dBytes;
        const vBase = v + (<usize>b * <usize>S * <usize>KV + <usize>g) * dBytes;
        // Scores and their maximum.
        let max: f32 = <f32>-Infinity;
        for (let s: i32 = 0; s < seen; s++) {
          const kv = kBase + <usize>s * keyStride;
          let acc = f32x4.splat(0);
          for (let i: i32 = 0; i < D4; i += 4) acc = f32x4.add(acc, f32x4.mul(v128.load(qv + (<usize>i << 2)), v128.load(kv + (<usize>i << 2))));
          let dot = lanes(acc);
          for (let i: i32 = D4; i < D; i++) dot += load<f32>(qv + (<usize>i << 2)) * load<f32>(kv + (<usize>i << 2));
          dot *= scale;
          store<f32>(scores + (<usize>s << 2), dot);
          max = Mathf.max(max, dot);
        }
        // Probabilities (unnormalised) and their sum.
        const m = f32x4.splat(max);
        const seen4 = seen & ~3;
        let sumv = f32x4.splat(0);
        for (let s: i32 = 0; s < seen4; s += 4) {
          const p = expv(f32x4.sub(v128.load(scores + (<usize>s << 2)), m));
          v128.store(scores + (<usize>s << 2), p);
          sumv = f32x4.add(sumv, p);
        }
        let sum = lanes(sumv);
        for (let s: i32 = seen4; s < seen; s++) {
          const p = exp1(load<f32>(scores + (<usize>s << 2)) - max);
          store<f32>(scores + (<usize>s << 2), p);
          sum += p;
        }
        // y = Σ p_s v_s / Σ p_s, accumulated in y's row.
        const out = y + ((<usize>(b * T + t) * <usize>H + <usize>h) * dBytes);
        memory.fill(out, 0, dBytes);
        for (let s: i32 = 0; s < seen; s++) {
          const vv = vBase + <usize>s * keyStride;
          const p = load<f32>(scores + (<usize>s << 2));
          const pv = f32x4.splat(p);
          for (let i: i32 = 0; i < D4; i += 4) {
            const o: usize = <usize>i << 2;
            v128.store(out + o, f32x4.add(v128.load(out + o), f32x4.mul(pv, v128.load(vv + o))));
          }
          for (let i: i32 = D4; i < D; i++) store<f32>(out + (<usize>i << 2), load<f32>(out + (<usize>i << 2)) + p * load<f32>(vv + (<usize>i << 2)));
        }
        const inv = f32x4.splat(1 / sum);
        for (let i: i32 = 0; i < D4; i += 4) v128.store(out + (<usize>i << 2), f32x4.mul(v128.load(out + (<usize>i << 2)), inv));
        for (let i: i32 = D4; i < D; i++) store<f32>(out + (<usize>i << 2), load<f32>(out + (<usize>i << 2)) / sum);
      }
    }
  }
}
