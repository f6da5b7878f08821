// Seeded, serialisable pseudo-random numbers: xoshiro128** (Blackman & Vigna, 2018), 32-bit integer
// arithmetic only, so it is fast in JS and bit-identical on every platform. The whole state is four
// uint32 words: state() is JSON-safe and fromState() resumes the exact stream (checkpoint/resume).
// Not cryptographic.
import { InputError } from '../errors.js';

export interface RngState {
  algorithm: 'xoshiro128**';
  /** the four state words, uint32 */
  s: [number, number, number, number];
}

/** murmur3's 32-bit finaliser: a bijective avalanche mix. */
function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** Splits a non-negative safe integer into [low 32 bits, high 21 bits]. */
function words(x: number): [number, number] {
  if (!Number.isSafeInteger(x) || x < 0) throw new RangeError(`rng: seed/key ${x} must be a non-negative safe integer`);
  return [x >>> 0, Math.floor(x / 2 ** 32) >>> 0];
}

const TWO_POW_32 = 2 ** 32;

export class Rng {
  private s0: number;
  private s1: number;
  private s2: number;
  private s3: number;

  private constructor(s: readonly number[]) {
    [this.s0, this.s1, this.s2, this.s3] = s.map((w) => w >>> 0);
    if ((this.s0 | this.s1 | this.s2 | this.s3) === 0) this.s0 = 1; // all-zero is xoshiro's one fixed point
  }

  /**
   * A generator determined by a seed and optional keys (non-negative safe integers). Different
   * (seed, keys) give unrelated streams: Rng.derive(seed, k) is stream k of a counter-based family,
   * which is how the window sampler makes window k independent of when it is drawn.
   */
  static derive(seed: number, ...keys: number[]): Rng {
    const input = [seed, ...keys].flatMap(words);
    // Each state word hashes the whole input with its own starting constant: 128 bits of state from
    // up to 2×53-bit input without funnelling through a 32-bit intermediate.
    const s = [0x9e3779b9, 0x7f4a7c15, 0x85ebca6b, 0xc2b2ae35].map((h, lane) => {
      for (const w of input) h = fmix32((h ^ w) + Math.imul(lane + 1, 0x27d4eb2f));
      return fmix32(h + input.length);
    });
    return new Rng(s);
  }

  /** Raw state words (use fromState to seed with exact words, e.g. known-answer tests). */
  static fromState(state: RngState): Rng {
    if (!state || state.algorithm !== 'xoshiro128**' || !Array.isArray(state.s) || state.s.length !== 4
      || !state.s.every((w) => Number.isInteger(w) && w >= 0 && w < TWO_POW_32)) {
      throw new InputError(`rng state ${JSON.stringify(state)} is not an xoshiro128** state ({algorithm:'xoshiro128**', s:[4 uint32]}); the checkpoint is damaged or from another program`);
    }
    return new Rng(state.s);
  }

  state(): RngState {
    return { algorithm: 'xoshiro128**', s: [this.s0 >>> 0, this.s1 >>> 0, this.s2 >>> 0, this.s3 >>> 0] };
  }

  clone(): Rng {
    return new Rng([this.s0, this.s1, this.s2, this.s3]);
  }

  /** Next uint32. */
  nextUint32(): number {
    const s1 = this.s1;
    const result = Math.imul(rotl(Math.imul(s1, 5), 7), 9) >>> 0;
    const t = s1 << 9;
    this.s2 ^= this.s0;
    this.s3 ^= this.s1;
    this.s1 ^= this.s2;
    this.s0 ^= this.s3;
    this.s2 ^= t;
    this.s3 = rotl(this.s3, 11);
    return result;
  }

  /** Uniform double in [0, 1) with 53 random bits. */
  nextFloat(): number {
    const hi = this.nextUint32() >>> 5; // 27 bits
    const lo = this.nextUint32() >>> 6; // 26 bits
    return (hi * 67108864 + lo) / 9007199254740992;
  }

  /** Uniform integer in [0, n) for 1 ≤ n ≤ 2^53, unbiased (rejection sampling). */
  nextInt(n: number): number {
    if (!Number.isSafeInteger(n) || n < 1) throw new RangeError(`rng.nextInt: n = ${n} must be an integer in [1, 2^53]`);
    if (n <= TWO_POW_32) {
      const limit = TWO_POW_32 - (TWO_POW_32 % n); // largest multiple of n ≤ 2^32
      for (;;) {
        const r = this.nextUint32();
        if (r < limit) return r % n;
      }
    }
    const range = 2 ** 53;
    const limit = range - (range % n);
    for (;;) {
      const r = (this.nextUint32() >>> 11) * TWO_POW_32 + this.nextUint32(); // 21 + 32 = 53 bits
      if (r < limit) return r % n;
    }
  }

  /** true with probability p. */
  nextBool(p = 0.5): boolean {
    return this.nextFloat() < p;
  }
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}

/** mulberry32: a small seeded uniform generator on [0, 1) (32-bit state), for fixtures, benches and tests. */
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
