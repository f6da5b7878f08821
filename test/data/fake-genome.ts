// An in-memory Genome (src/genome/types.ts) for sampler tests: no files, exact control over N runs.
import { InputError } from '../../src/errors.js';
import type { Genome, SequenceInfo } from '../../src/genome/types.js';

export class FakeGenome implements Genome {
  readonly path = 'fake.fa';
  readonly sequences: readonly SequenceInfo[];
  fetches = 0;
  constructor(private readonly seqs: Record<string, string>) {
    this.sequences = Object.entries(seqs).map(([name, s]) => ({ name, length: s.length }));
  }
  length(name: string): number | undefined {
    return this.seqs[name]?.length;
  }
  async fetch(name: string, start: number, end: number): Promise<string> {
    const s = this.seqs[name];
    if (s === undefined) throw new InputError(`unknown sequence ${name}`);
    if (start < 0 || end > s.length || start > end) throw new InputError(`${name}:${start}-${end} outside 0-${s.length}`);
    this.fetches++;
    await new Promise((r) => setImmediate(r)); // really async, so concurrency bugs would show
    return s.slice(start, end);
  }
  async close(): Promise<void> {}
}

/** A seeded random sequence over an alphabet. */
export function randomBases(length: number, seed: number, alphabet = 'ACGT'): string {
  let x = seed >>> 0 || 1;
  let s = '';
  for (let i = 0; i < length; i++) {
    x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0; // xorshift32, independent of src/data/rng
    s += alphabet[x % alphabet.length];
  }
  return s;
}
