/**
 * A small seeded PRNG (mulberry32) owned by ftc, so adapter initialisation and sampling give the same
 * numbers on every backend and every run: tfjs' own random ops are seeded too, but their streams are an
 * implementation detail of tfjs that a version bump may change.
 */
export class Prng {
  private state: number;

  constructor(seed: number) {
    this.state = (Math.trunc(seed) ^ 0x9e3779b9) >>> 0;
  }

  /** Uniform in [0, 1), 32 bits of randomness. */
  next(): number {
    let t = (this.state = (this.state + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** Uniform in [lo, hi). */
  uniform(lo: number, hi: number): number {
    return lo + (hi - lo) * this.next();
  }

  /** The state, for checkpoints; `new Prng(0).restore(s)` continues the same stream. */
  save(): number {
    return this.state;
  }

  restore(state: number): this {
    this.state = state >>> 0;
    return this;
  }
}

/** Mixes a seed with small integers (layer, module, step) into a new 31-bit seed. */
export function deriveSeed(seed: number, ...parts: number[]): number {
  let h = (Math.trunc(seed) ^ 0x811c9dc5) >>> 0;
  for (const p of parts) {
    h = Math.imul(h ^ (Math.trunc(p) >>> 0), 0x01000193) >>> 0;
    h ^= h >>> 13;
  }
  return h & 0x7fffffff;
}
