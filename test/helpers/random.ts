// Seeded pseudo-random numbers for tests: mulberry32 (32-bit state, period 2^32) and a Box–Muller
// gaussian. Deterministic across runs and platforms, so a failing seed can be replayed.

import { mulberry32 } from '../../src/data/rng.js';

export { mulberry32 };

/** One standard normal sample (Box–Muller; 1 - u keeps log away from 0). */
export function gaussian(rng: () => number): number {
  const u = 1 - rng();
  const v = rng();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
}

/** n samples of N(mean, std²) as float64. */
export function randn(rng: () => number, n: number, std = 1, mean = 0): Float64Array {
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) out[i] = mean + std * gaussian(rng);
  return out;
}

/** n samples uniform on [lo, hi) as float64. */
export function randu(rng: () => number, n: number, lo = 0, hi = 1): Float64Array {
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) out[i] = lo + (hi - lo) * rng();
  return out;
}

/** n integers uniform on [0, k). */
export function randint(rng: () => number, n: number, k: number): Int32Array {
  const out = new Int32Array(n);
  for (let i = 0; i < n; i++) out[i] = Math.floor(rng() * k);
  return out;
}
