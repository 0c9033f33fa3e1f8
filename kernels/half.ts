// Products with a frozen 16-bit weight (bf16 or f16), widened to f32 inside the kernel.
//
// Kernel layout: W [N, K] row-major as Hugging Face stores it (row n = output n), 2 bytes per value, one
// copy. Every product reads that copy:
//   forward  y = x·Wᵀ   M ≥ GEMV rows: pack16(transposed) widens a block of W's rows into matmul.ts's f32
//                        column panels (bounded scratch), then matmul's 4×8 tiles; M small: gemvBf16/F16, dot
//                        products along W's rows straight from the 16-bit values.
//   backward dx = dy·W  pack16(untransposed) widens a block of W's columns the same way; M small: gemvT16,
//                        axpys of W's rows into dx.
// Widening: bf16 is the upper half of an f32 (shift left 16); f16's exponent and mantissa shifted into
// f32's place (<< 13) and scaled by 2^112 re-bias the exponent (15 → 127), subnormals included. The trick
// maps f16 infinities and NaNs to finite values: ftc checks every weight finite when it loads it.
// Like matmul.ts: no static data, no allocation; every pointer is a byte offset into the backend's memory.

const NR: i32 = 8;
/** 2^112 as f32 bits: the f16 → f32 exponent re-bias. */
const REBIAS_BITS: i32 = 0x77800000;

/** Four 16-bit values (zero-extended in i32 lanes) → f32x4. */
// @ts-ignore: decorator
@inline
function widen4(u: v128, f16: bool): v128 {
  if (!f16) return i32x4.shl(u, 16);
  const magnitude = f32x4.mul(i32x4.shl(v128.and(u, i32x4.splat(0x7fff)), 13), f32x4.splat(reinterpret<f32>(REBIAS_BITS)));
  return v128.or(magnitude, i32x4.shl(v128.and(u, i32x4.splat(0x8000)), 16));
}

/** The low four of eight 16-bit values at p, as f32x4. */
// @ts-ignore: decorator
@inline
function lo(v: v128, f16: bool): v128 {
  return widen4(i32x4.extend_low_i16x8_u(v), f16);
}

// @ts-ignore: decorator
@inline
function hi(v: v128, f16: bool): v128 {
  return widen4(i32x4.extend_high_i16x8_u(v), f16);
}

/** One 16-bit value at p as f32 (the scalar twin of widen4, for tails). */
// @ts-ignore: decorator
@inline
function widen1(p: usize, f16: bool): f32 {
  const h = <u32>load<u16>(p);
  if (!f16) return reinterpret<f32>(h << 16);
  const magnitude = reinterpret<f32>((h & 0x7fff) << 13) * reinterpret<f32>(REBIAS_BITS);
  return reinterpret<f32>(reinterpret<u32>(magnitude) | ((h & 0x8000) << 16));
}

/** `count` 16-bit values at src → f32 at dst (W's rows for the loss, W whole for DoRA). */
export function widen16(src: usize, count: i32, f16: bool, dst: usize): void {
  let i: i32 = 0;
  for (; i + 8 <= count; i += 8) {
    const v = v128.load(src);
    v128.store(dst, lo(v, f16));
    v128.store(dst, hi(v, f16), 16);
    src += 16;
    dst += 32;
  }
  for (; i < count; i++) {
    store<f32>(dst, widen1(src, f16));
    src += 2;
    dst += 4;
  }
}

/**
 * (Exported once per format, packBf16 / packF16, for the reason gemvBf16 gives.)
 * Packs N columns of op(B) [K, N] from 16-bit storage into matmul.ts's panels (ceil(N/8) panels of K×8
 * f32, k-major, zero-padded). Stored untransposed, op(B)[k,n] is at b + 2·(k·ldb + n); transposed (W's rows
 * are op(B)'s columns, the forward product) at b + 2·(n·ldb + k).
 */
export function packBf16(b: usize, K: i32, N: i32, ldb: i32, transposed: bool, dst: usize): void {
  pack16(b, K, N, ldb, transposed, false, dst);
}

export function packF16(b: usize, K: i32, N: i32, ldb: i32, transposed: bool, dst: usize): void {
  pack16(b, K, N, ldb, transposed, true, dst);
}

// @ts-ignore: decorator
@inline
function pack16(b: usize, K: i32, N: i32, ldb: i32, transposed: bool, f16: bool, dst: usize): void {
  const row: usize = <usize>ldb << 1;
  for (let n0: i32 = 0; n0 < N; n0 += NR) {
    const cols = min(NR, N - n0);
    if (cols == NR && !transposed) {
      // Eight consecutive values of one stored row per k: one load, two widened stores.
      let src = b + (<usize>n0 << 1);
      for (let k: i32 = 0; k < K; k++) {
        const v = v128.load(src);
        v128.store(dst, lo(v, f16));
        v128.store(dst, hi(v, f16), 16);
        src += row;
        dst += 32;
      }
    } else if (transposed) {
      // Each of the panel's columns is a stored row: widen 8 k at a time, scatter into the k-major panel.
      for (let c: i32 = 0; c < NR; c++) {
        const out = dst + (<usize>c << 2);
        if (c >= cols) {
          for (let k: i32 = 0; k < K; k++) store<f32>(out + (<usize>k << 5), 0);
          continue;
        }
        const src = b + <usize>(n0 + c) * row;
        let k: i32 = 0;
        for (; k + 8 <= K; k += 8) {
          const v = v128.load(src + (<usize>k << 1));
          const l = lo(v, f16);
          const h = hi(v, f16);
          const o = out + (<usize>k << 5);
          store<f32>(o, f32x4.extract_lane(l, 0));
          store<f32>(o, f32x4.extract_lane(l, 1), 32);
          store<f32>(o, f32x4.extract_lane(l, 2), 64);
          store<f32>(o, f32x4.extract_lane(l, 3), 96);
          store<f32>(o, f32x4.extract_lane(h, 0), 128);
          store<f32>(o, f32x4.extract_lane(h, 1), 160);
          store<f32>(o, f32x4.extract_lane(h, 2), 192);
          store<f32>(o, f32x4.extract_lane(h, 3), 224);
        }
        for (; k < K; k++) store<f32>(out + (<usize>k << 5), widen1(src + (<usize>k << 1), f16));
      }
      dst += <usize>K * 32;
    } else {
      // The last, partial panel of an untransposed B.
      for (let k: i32 = 0; k < K; k++) {
        const src = b + (<usize>k * <usize>ldb + <usize>n0) * 2;
        for (let c: i32 = 0; c < NR; c++) store<f32>(dst + (<usize>c << 2), c < cols ? widen1(src + (<usize>c << 1), f16) : 0);
        dst += 32;
      }
    }
  }
}

/** Σ of the four lanes. */
// @ts-ignore: decorator
@inline
function sum4(v: v128): f32 {
  return f32x4.extract_lane(v, 0) + f32x4.extract_lane(v, 1) + f32x4.extract_lane(v, 2) + f32x4.extract_lane(v, 3);
}

/**
 * The even-indexed four of eight 16-bit values v (as i32 lanes: value 2j in the low half of lane j), as f32x4.
 * With the odd ones below, this widens eight values in two or three operations per four, against four for
 * extend + shift: the bf16 of the high half is already an f32 once the low half is masked off.
 */
// @ts-ignore: decorator
@inline
function even(v: v128, f16: bool): v128 {
  if (!f16) return i32x4.shl(v, 16);
  const magnitude = f32x4.mul(i32x4.shl(v128.and(v, i32x4.splat(0x7fff)), 13), f32x4.splat(reinterpret<f32>(REBIAS_BITS)));
  return v128.or(magnitude, i32x4.shl(v128.and(v, i32x4.splat(0x8000)), 16));
}

/** The odd-indexed four (value 2j + 1 in the high half of lane j), as f32x4; `high` is i32x4.splat(0xffff0000). */
// @ts-ignore: decorator
@inline
function odd(v: v128, f16: bool, high: v128): v128 {
  if (!f16) return v128.and(v, high);
  const magnitude = f32x4.mul(i32x4.shr_u(v128.and(v, i32x4.splat(0x7fff0000)), 3), f32x4.splat(reinterpret<f32>(REBIAS_BITS)));
  return v128.or(magnitude, v128.and(v, i32x4.splat(0x80000000)));
}

/**
 * y[n] = Σ_k x[k]·W[n,k] for one row x [K] (f32) and W [N, K] (16-bit): the forward product of one token.
 * x is first split, per group of eight, into its even and odd elements at `xs` (K floats of scratch), so each
 * loaded vector of W widens by `even`/`odd` without reordering; four rows of W at a time share each x load.
 *
 * One export per format, chosen by the caller: with the format a runtime flag, Binaryen folds the two widenings
 * into one loop that computes both and selects (the bf16 product then ran at about half the speed in L2).
 */
export function gemvBf16(x: usize, w: usize, y: usize, K: i32, N: i32, xs: usize): void {
  splitEvenOdd(x, K, xs);
  gemvRows(x, w, y, K, N, xs, false);
}

export function gemvF16(x: usize, w: usize, y: usize, K: i32, N: i32, xs: usize): void {
  splitEvenOdd(x, K, xs);
  gemvRows(x, w, y, K, N, xs, true);
}

/** xs, per group of 8 floats of x: the 4 even-indexed ones, then the 4 odd-indexed ones (the tail is not written). */
// @ts-ignore: decorator
@inline
function splitEvenOdd(x: usize, K: i32, xs: usize): void {
  const K8 = K & ~7;
  for (let k: i32 = 0; k < K8; k += 8) {
    const a = v128.load(x + (<usize>k << 2));
    const b = v128.load(x + (<usize>k << 2), 16);
    v128.store(xs + (<usize>k << 2), v128.shuffle<f32>(a, b, 0, 2, 4, 6));
    v128.store(xs + (<usize>k << 2), v128.shuffle<f32>(a, b, 1, 3, 5, 7), 16);
  }
}

// @ts-ignore: decorator
@inline
function gemvRows(x: usize, w: usize, y: usize, K: i32, N: i32, xs: usize, f16: bool): void {
  const row: usize = <usize>K << 1;
  const K8 = K & ~7;
  // Made once, outside the loops: V8 rebuilt a v128.const in the loop on every use.
  const high = i32x4.splat(0xffff0000);
  let n: i32 = 0;
  for (; n + 4 <= N; n += 4) {
    const w0 = w + <usize>n * row;
    const w1 = w0 + row;
    const w2 = w1 + row;
    const w3 = w2 + row;
    // Even and odd lanes accumulate apart: no add joins them inside the loop.
    let a0 = f32x4.splat(0), a1 = f32x4.splat(0), a2 = f32x4.splat(0), a3 = f32x4.splat(0);
    let b0 = f32x4.splat(0), b1 = f32x4.splat(0), b2 = f32x4.splat(0), b3 = f32x4.splat(0);
    for (let k: i32 = 0; k < K8; k += 8) {
      const xe = v128.load(xs + (<usize>k << 2));
      const xo = v128.load(xs + (<usize>k << 2), 16);
      const o: usize = <usize>k << 1;
      let v = v128.load(w0 + o);
      a0 = f32x4.add(a0, f32x4.mul(xe, even(v, f16)));
      b0 = f32x4.add(b0, f32x4.mul(xo, odd(v, f16, high)));
      v = v128.load(w1 + o);
      a1 = f32x4.add(a1, f32x4.mul(xe, even(v, f16)));
      b1 = f32x4.add(b1, f32x4.mul(xo, odd(v, f16, high)));
      v = v128.load(w2 + o);
      a2 = f32x4.add(a2, f32x4.mul(xe, even(v, f16)));
      b2 = f32x4.add(b2, f32x4.mul(xo, odd(v, f16, high)));
      v = v128.load(w3 + o);
      a3 = f32x4.add(a3, f32x4.mul(xe, even(v, f16)));
      b3 = f32x4.add(b3, f32x4.mul(xo, odd(v, f16, high)));
    }
    let s0 = sum4(f32x4.add(a0, b0)), s1 = sum4(f32x4.add(a1, b1)), s2 = sum4(f32x4.add(a2, b2)), s3 = sum4(f32x4.add(a3, b3));
    for (let k: i32 = K8; k < K; k++) {
      const xk = load<f32>(x + (<usize>k << 2));
      const o: usize = <usize>k << 1;
      s0 += xk * widen1(w0 + o, f16);
      s1 += xk * widen1(w1 + o, f16);
      s2 += xk * widen1(w2 + o, f16);
      s3 += xk * widen1(w3 + o, f16);
    }
    store<f32>(y + (<usize>n << 2), s0);
    store<f32>(y + (<usize>n << 2), s1, 4);
    store<f32>(y + (<usize>n << 2), s2, 8);
    store<f32>(y + (<usize>n << 2), s3, 12);
  }
  for (; n < N; n++) {
    const wn = w + <usize>n * row;
    let a = f32x4.splat(0);
    for (let k: i32 = 0; k < K8; k += 8) {
      const v = v128.load(wn + (<usize>k << 1));
      a = f32x4.add(a, f32x4.add(f32x4.mul(v128.load(xs + (<usize>k << 2)), even(v, f16)), f32x4.mul(v128.load(xs + (<usize>k << 2), 16), odd(v, f16, high))));
    }
    let s = sum4(a);
    for (let k: i32 = K8; k < K; k++) s += load<f32>(x + (<usize>k << 2)) * widen1(wn + (<usize>k << 1), f16);
    store<f32>(y + (<usize>n << 2), s);
  }
}

/**
 * dx[k] = Σ_n dy[n]·W[n,k] for one row dy [N] (f32) and W [N, K] (16-bit): the backward product of one
 * row, as axpys of W's rows into dx (zeroed first), four rows per pass over dx.
 */
export function gemvTBf16(dy: usize, w: usize, dx: usize, N: i32, K: i32): void {
  gemvT16(dy, w, dx, N, K, false);
}

export function gemvTF16(dy: usize, w: usize, dx: usize, N: i32, K: i32): void {
  gemvT16(dy, w, dx, N, K, true);
}

// @ts-ignore: decorator
@inline
function gemvT16(dy: usize, w: usize, dx: usize, N: i32, K: i32, f16: bool): void {
  const row: usize = <usize>K << 1;
  const K8 = K & ~7;
  memory.fill(dx, 0, <usize>K << 2);
  let n: i32 = 0;
  for (; n + 4 <= N; n += 4) {
    const w0 = w + <usize>n * row;
    const w1 = w0 + row;
    const w2 = w1 + row;
    const w3 = w2 + row;
    const d0 = load<f32>(dy + (<usize>n << 2));
    const d1 = load<f32>(dy + (<usize>n << 2), 4);
    const d2 = load<f32>(dy + (<usize>n << 2), 8);
    const d3 = load<f32>(dy + (<usize>n << 2), 12);
    const s0 = f32x4.splat(d0), s1 = f32x4.splat(d1), s2 = f32x4.splat(d2), s3 = f32x4.splat(d3);
    for (let k: i32 = 0; k < K8; k += 8) {
      const o: usize = <usize>k << 1;
      const out = dx + (<usize>k << 2);
      const v0 = v128.load(w0 + o), v1 = v128.load(w1 + o), v2 = v128.load(w2 + o), v3 = v128.load(w3 + o);
      let l = v128.load(out);
      l = f32x4.add(l, f32x4.add(f32x4.add(f32x4.mul(s0, lo(v0, f16)), f32x4.mul(s1, lo(v1, f16))), f32x4.add(f32x4.mul(s2, lo(v2, f16)), f32x4.mul(s3, lo(v3, f16)))));
      v128.store(out, l);
      let h = v128.load(out, 16);
      h = f32x4.add(h, f32x4.add(f32x4.add(f32x4.mul(s0, hi(v0, f16)), f32x4.mul(s1, hi(v1, f16))), f32x4.add(f32x4.mul(s2, hi(v2, f16)), f32x4.mul(s3, hi(v3, f16)))));
      v128.store(out, h, 16);
    }
    for (let k: i32 = K8; k < K; k++) {
      const o: usize = <usize>k << 1;
      const p = dx + (<usize>k << 2);
      store<f32>(p, load<f32>(p) + d0 * widen1(w0 + o, f16) + d1 * widen1(w1 + o, f16) + d2 * widen1(w2 + o, f16) + d3 * widen1(w3 + o, f16));
    }
  }
  for (; n < N; n++) {
    const wn = w + <usize>n * row;
    const d = load<f32>(dy + (<usize>n << 2));
    const s = f32x4.splat(d);
    for (let k: i32 = 0; k < K8; k += 8) {
      const v = v128.load(wn + (<usize>k << 1));
      const out = dx + (<usize>k << 2);
      v128.store(out, f32x4.add(v128.load(out), f32x4.mul(s, lo(v, f16))));
      v128.store(out, f32x4.add(v128.load(out, 16), f32x4.mul(s, hi(v, f16))), 16);
    }
    for (let k: i32 = K8; k < K; k++) {
      const p = dx + (<usize>k << 2);
      store<f32>(p, load<f32>(p) + d * widen1(wn + (<usize>k << 1), f16));
    }
  }
}
