/**
 * Seeded randomness shared by the data stages and the trainer.
 *
 * mulberry32: a tiny 32-bit PRNG. Integer-only arithmetic (Math.imul, >>>), so the same seed
 * gives the same sequence on every platform and Node version, unlike Math.random.
 */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Fisher–Yates shuffle in place (an array or a typed array), driven by mulberry32(seed). */
export function seededShuffle<A extends { length: number; [index: number]: unknown }>(items: A, seed: number): A {
  const next = mulberry32(seed);
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(next() * (i + 1));
    const t = items[i];
    items[i] = items[j];
    items[j] = t;
  }
  return items;
}
