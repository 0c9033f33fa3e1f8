// SIMD matrix multiply for the tfjs wasm backend, compiled by AssemblyScript (`npm run build:kernels`).
//
// The module imports the backend's own memory and never allocates: every pointer is a byte offset into
// that memory, chosen by the caller (src/runtime/kernels/batch-matmul.ts). It must keep no static data,
// since any data segment would be written over the backend's heap at instantiation.
//
// C[M,N] = op(A)[M,K] · op(B)[K,N] runs in two steps:
//   packB   copies op(B) into column panels of NR = 8 floats, k-major, so the inner loop reads one
//           contiguous stream whatever B's layout (this is where transposeB is absorbed);
//   matmul  walks 4×8 register tiles of C: 8 f32x4 accumulators, each k step loads two vectors of the
//           panel and splats one element of each of the 4 rows of op(A). op(A) is addressed through two
//           byte strides, so transposeA costs nothing but a different stride.

const NR: i32 = 8;
const MR: i32 = 4;

/**
 * Packs N columns of op(B) ([K,N]; stored [N,K] when transposed) into ceil(N/8) panels of K×8 floats,
 * zero-padded. `ldb` is the stored row length of an untransposed B (its full width), so a block of columns
 * of a wider B packs in place.
 */
export function packB(b: usize, K: i32, N: i32, ldb: i32, transposed: bool, dst: usize): void {
  const kStride: usize = transposed ? 4 : <usize>ldb << 2; // bytes between op(B)[k,n] and op(B)[k+1,n]
  const nStride: usize = transposed ? <usize>K << 2 : 4;   // bytes between op(B)[k,n] and op(B)[k,n+1]
  for (let n0: i32 = 0; n0 < N; n0 += NR) {
    const cols = min(NR, N - n0);
    const colBase = b + <usize>n0 * nStride;
    if (cols == NR && !transposed) {
      // Rows of B are contiguous: two vector copies per k.
      let src = colBase;
      for (let k: i32 = 0; k < K; k++) {
        v128.store(dst, v128.load(src));
        v128.store(dst, v128.load(src, 16), 16);
        src += kStride;
        dst += 32;
      }
    } else if (cols == NR) {
      // Transposed: 8 sequential streams (one per output column), gathered 4 k at a time.
      for (let c: i32 = 0; c < NR; c++) {
        let src = colBase + <usize>c * nStride;
        let out = dst + (<usize>c << 2);
        for (let k: i32 = 0; k < K; k++) {
          store<f32>(out, load<f32>(src));
          src += 4;
          out += 32;
        }
      }
      dst += <usize>K * 32;
    } else {
      for (let k: i32 = 0; k < K; k++) {
        for (let c: i32 = 0; c < NR; c++) {
          const v: f32 = c < cols ? load<f32>(colBase + <usize>k * kStride + <usize>c * nStride) : 0;
          store<f32>(dst + (<usize>c << 2), v);
        }
        dst += 32;
      }
    }
  }
}

// @ts-ignore: decorator
@inline
function storeRow(c: usize, lo: v128, hi: v128, cols: i32, tile: usize): void {
  if (cols == NR) {
    v128.store(c, lo);
    v128.store(c, hi, 16);
  } else {
    v128.store(tile, lo);
    v128.store(tile, hi, 16);
    for (let j: i32 = 0; j < cols; j++) store<f32>(c + (<usize>j << 2), load<f32>(tile + (<usize>j << 2)));
  }
}

/** Loads `cols` floats of a C row (zeros beyond), through the scratch tile when the row is partial. */
// @ts-ignore: decorator
@inline
function loadRow(c: usize, cols: i32, tile: usize, high: bool): v128 {
  if (cols == NR) return high ? v128.load(c, 16) : v128.load(c);
  for (let j: i32 = 0; j < NR; j++) store<f32>(tile + (<usize>j << 2), j < cols ? load<f32>(c + (<usize>j << 2)) : 0);
  return high ? v128.load(tile, 16) : v128.load(tile);
}

/**
 * One 4×8 tile of C: rows at a (stride sAi), k stride sAk; panel bp; writes `cols` valid columns.
 * With `accumulate` the tile adds to C (the second and later blocks of K), else it overwrites C.
 */
// @ts-ignore: decorator
@inline
function tile4x8(a: usize, sAi: usize, sAk: usize, bp: usize, K: i32, c: usize, ldc: usize, cols: i32, tile: usize, accumulate: bool): void {
  let a0 = a;
  let a1 = a + sAi;
  let a2 = a1 + sAi;
  let a3 = a2 + sAi;
  let c00 = f32x4.splat(0), c01 = f32x4.splat(0);
  let c10 = f32x4.splat(0), c11 = f32x4.splat(0);
  let c20 = f32x4.splat(0), c21 = f32x4.splat(0);
  let c30 = f32x4.splat(0), c31 = f32x4.splat(0);
  if (accumulate) {
    c00 = loadRow(c, cols, tile, false);
    c01 = loadRow(c, cols, tile, true);
    c10 = loadRow(c + ldc, cols, tile, false);
    c11 = loadRow(c + ldc, cols, tile, true);
    c20 = loadRow(c + 2 * ldc, cols, tile, false);
    c21 = loadRow(c + 2 * ldc, cols, tile, true);
    c30 = loadRow(c + 3 * ldc, cols, tile, false);
    c31 = loadRow(c + 3 * ldc, cols, tile, true);
  }
  for (let k: i32 = 0; k < K; k++) {
    const b0 = v128.load(bp);
    const b1 = v128.load(bp, 16);
    let x = v128.load32_splat(a0);
    c00 = f32x4.add(c00, f32x4.mul(x, b0));
    c01 = f32x4.add(c01, f32x4.mul(x, b1));
    x = v128.load32_splat(a1);
    c10 = f32x4.add(c10, f32x4.mul(x, b0));
    c11 = f32x4.add(c11, f32x4.mul(x, b1));
    x = v128.load32_splat(a2);
    c20 = f32x4.add(c20, f32x4.mul(x, b0));
    c21 = f32x4.add(c21, f32x4.mul(x, b1));
    x = v128.load32_splat(a3);
    c30 = f32x4.add(c30, f32x4.mul(x, b0));
    c31 = f32x4.add(c31, f32x4.mul(x, b1));
    a0 += sAk;
    a1 += sAk;
    a2 += sAk;
    a3 += sAk;
    bp += 32;
  }
  storeRow(c, c00, c01, cols, tile);
  storeRow(c + ldc, c10, c11, cols, tile);
  storeRow(c + 2 * ldc, c20, c21, cols, tile);
  storeRow(c + 3 * ldc, c30, c31, cols, tile);
}

/** One 1×8 tile, for the rows left over when M is not a multiple of 4. */
// @ts-ignore: decorator
@inline
function tile1x8(a: usize, sAk: usize, bp: usize, K: i32, c: usize, cols: i32, tile: usize, accumulate: bool): void {
  let lo = f32x4.splat(0), hi = f32x4.splat(0);
  if (accumulate) {
    lo = loadRow(c, cols, tile, false);
    hi = loadRow(c, cols, tile, true);
  }
  for (let k: i32 = 0; k < K; k++) {
    const x = v128.load32_splat(a);
    lo = f32x4.add(lo, f32x4.mul(x, v128.load(bp)));
    hi = f32x4.add(hi, f32x4.mul(x, v128.load(bp, 16)));
    a += sAk;
    bp += 32;
  }
  storeRow(c, lo, hi, cols, tile);
}

/**
 * C[M,N] (rows `ldcElems` floats apart at c) = op(A) · packed op(B). op(A)[i,k] lives at a + i*sAi + k*sAk (bytes).
 * K is cut into blocks of `kBlock` so a tile's slice of the panel (kBlock×32 bytes) stays in L1; within
 * a K block, `rowBlock` rows of A are swept against every panel before moving on, so they stay in L2.
 * `tile` is 32 bytes of scratch for the partial last panel.
 */
export function matmul(a: usize, sAi: usize, sAk: usize, packed: usize, c: usize, M: i32, N: i32, ldcElems: i32, K: i32, rowBlock: i32, kBlock: i32, tile: usize): void {
  const ldc: usize = <usize>ldcElems << 2;
  const panelBytes: usize = <usize>K * 32;
  for (let k0: i32 = 0; k0 < K; k0 += kBlock) {
    const kc = min(kBlock, K - k0);
    const accumulate = k0 > 0;
    const ak = a + <usize>k0 * sAk;
    const pk = packed + <usize>k0 * 32;
    for (let i0: i32 = 0; i0 < M; i0 += rowBlock) {
      const i1 = min(M, i0 + rowBlock);
      for (let n0: i32 = 0; n0 < N; n0 += NR) {
        const cols = min(NR, N - n0);
        const bp = pk + <usize>(n0 / NR) * panelBytes;
        let i = i0;
        for (; i + MR <= i1; i += MR) {
          tile4x8(ak + <usize>i * sAi, sAi, sAk, bp, kc, c + <usize>i * ldc + (<usize>n0 << 2), ldc, cols, tile, accumulate);
        }
        for (; i < i1; i++) {
          tile1x8(ak + <usize>i * sAi, sAk, bp, kc, c + <usize>i * ldc + (<usize>n0 << 2), cols, tile, accumulate);
        }
      }
    }
  }
}

/** Σ of the four lanes. */
// @ts-ignore: decorator
@inline
function hsum4(v: v128): f32 {
  return f32x4.extract_lane(v, 0) + f32x4.extract_lane(v, 1) + f32x4.extract_lane(v, 2) + f32x4.extract_lane(v, 3);
}

/**
 * y[n] = Σ_k x[k]·W[n,k] for one row x [K] and W [N, K] stored row-major (op(B) = Wᵀ, the forward product of a
 * linear at decode time): dot products straight along W's rows, four rows at a time so each vector of x is
 * loaded once for four of them. Packing W for the 4×8 tiles would copy all of it to serve one row.
 */
export function gemvT32(x: usize, w: usize, y: usize, K: i32, N: i32): void {
  const row: usize = <usize>K << 2;
  const K8 = K & ~7;
  let n: i32 = 0;
  for (; n + 4 <= N; n += 4) {
    const w0 = w + <usize>n * row;
    const w1 = w0 + row;
    const w2 = w1 + row;
    const w3 = w2 + row;
    let a0 = f32x4.splat(0), a1 = f32x4.splat(0), a2 = f32x4.splat(0), a3 = f32x4.splat(0);
    let b0 = f32x4.splat(0), b1 = f32x4.splat(0), b2 = f32x4.splat(0), b3 = f32x4.splat(0);
    for (let k: i32 = 0; k < K8; k += 8) {
      const o: usize = <usize>k << 2;
      const xl = v128.load(x + o);
      const xh = v128.load(x + o, 16);
      a0 = f32x4.add(a0, f32x4.mul(xl, v128.load(w0 + o)));
      b0 = f32x4.add(b0, f32x4.mul(xh, v128.load(w0 + o, 16)));
      a1 = f32x4.add(a1, f32x4.mul(xl, v128.load(w1 + o)));
      b1 = f32x4.add(b1, f32x4.mul(xh, v128.load(w1 + o, 16)));
      a2 = f32x4.add(a2, f32x4.mul(xl, v128.load(w2 + o)));
      b2 = f32x4.add(b2, f32x4.mul(xh, v128.load(w2 + o, 16)));
      a3 = f32x4.add(a3, f32x4.mul(xl, v128.load(w3 + o)));
      b3 = f32x4.add(b3, f32x4.mul(xh, v128.load(w3 + o, 16)));
    }
    let s0 = hsum4(f32x4.add(a0, b0)), s1 = hsum4(f32x4.add(a1, b1)), s2 = hsum4(f32x4.add(a2, b2)), s3 = hsum4(f32x4.add(a3, b3));
    for (let k: i32 = K8; k < K; k++) {
      const xk = load<f32>(x + (<usize>k << 2));
      const o: usize = <usize>k << 2;
      s0 += xk * load<f32>(w0 + o);
      s1 += xk * load<f32>(w1 + o);
      s2 += xk * load<f32>(w2 + o);
      s3 += xk * load<f32>(w3 + o);
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
      const o: usize = <usize>k << 2;
      a = f32x4.add(a, f32x4.add(f32x4.mul(v128.load(x + o), v128.load(wn + o)), f32x4.mul(v128.load(x + o, 16), v128.load(wn + o, 16))));
    }
    let s = hsum4(a);
    for (let k: i32 = K8; k < K; k++) s += load<f32>(x + (<usize>k << 2)) * load<f32>(wn + (<usize>k << 2));
    store<f32>(y + (<usize>n << 2), s);
  }
}

/** Columns of y kept in registers-and-L1 per pass over B in gemvN32: 1024 floats (4 KiB). */
const GEMV_COLS: i32 = 1024;

/**
 * y[n] = Σ_k x[k]·B[k,n] for one row x [K] and B [K, N] stored row-major with row length ldb (op(B) = B): axpys
 * of B's rows into y, four rows per pass, over blocks of GEMV_COLS columns so the block of y stays in L1.
 */
export function gemvN32(x: usize, b: usize, y: usize, K: i32, N: i32, ldb: i32): void {
  const row: usize = <usize>ldb << 2;
  for (let n0: i32 = 0; n0 < N; n0 += GEMV_COLS) {
    const cols = min(GEMV_COLS, N - n0);
    const C8 = cols & ~7;
    const out = y + (<usize>n0 << 2);
    memory.fill(out, 0, <usize>cols << 2);
    let k: i32 = 0;
    for (; k + 4 <= K; k += 4) {
      const r0 = b + <usize>k * row + (<usize>n0 << 2);
      const r1 = r0 + row;
      const r2 = r1 + row;
      const r3 = r2 + row;
      const d0 = load<f32>(x + (<usize>k << 2));
      const d1 = load<f32>(x + (<usize>k << 2), 4);
      const d2 = load<f32>(x + (<usize>k << 2), 8);
      const d3 = load<f32>(x + (<usize>k << 2), 12);
      const s0 = f32x4.splat(d0), s1 = f32x4.splat(d1), s2 = f32x4.splat(d2), s3 = f32x4.splat(d3);
      for (let j: i32 = 0; j < C8; j += 8) {
        const o: usize = <usize>j << 2;
        const p = out + o;
        let l = v128.load(p);
        l = f32x4.add(l, f32x4.add(f32x4.add(f32x4.mul(s0, v128.load(r0 + o)), f32x4.mul(s1, v128.load(r1 + o))), f32x4.add(f32x4.mul(s2, v128.load(r2 + o)), f32x4.mul(s3, v128.load(r3 + o)))));
        v128.store(p, l);
        let h = v128.load(p, 16);
        h = f32x4.add(h, f32x4.add(f32x4.add(f32x4.mul(s0, v128.load(r0 + o, 16)), f32x4.mul(s1, v128.load(r1 + o, 16))), f32x4.add(f32x4.mul(s2, v128.load(r2 + o, 16)), f32x4.mul(s3, v128.load(r3 + o, 16)))));
        v128.store(p, h, 16);
      }
      for (let j: i32 = C8; j < cols; j++) {
        const o: usize = <usize>j << 2;
        store<f32>(out + o, load<f32>(out + o) + d0 * load<f32>(r0 + o) + d1 * load<f32>(r1 + o) + d2 * load<f32>(r2 + o) + d3 * load<f32>(r3 + o));
      }
    }
    for (; k < K; k++) {
      const r = b + <usize>k * row + (<usize>n0 << 2);
      const d = load<f32>(x + (<usize>k << 2));
      const s = f32x4.splat(d);
      for (let j: i32 = 0; j < C8; j += 8) {
        const o: usize = <usize>j << 2;
        v128.store(out + o, f32x4.add(v128.load(out + o), f32x4.mul(s, v128.load(r + o))));
        v128.store(out + o, f32x4.add(v128.load(out + o, 16), f32x4.mul(s, v128.load(r + o, 16))), 16);
      }
      for (let j: i32 = C8; j < cols; j++) {
        const o: usize = <usize>j << 2;
        store<f32>(out + o, load<f32>(out + o) + d * load<f32>(r + o));
      }
    }
  }
}

export * from './half';
export * from './nf4';
export * from './decode';
