// The k-mer baseline: multinomial naive Bayes on canonical k-mer counts.
// A k-mer and its reverse complement count as one (canonical = the smaller 2-bit code of the two), so
// the model does not care which strand an assembly or a read is on. K-mers containing N (or any
// non-ACGT token) are skipped. Per species c, with n_c(x) the training count of canonical k-mer x and
// M the number of canonical k-mers, Laplace/additive smoothing α:
//   log P(x | c) = log(n_c(x) + α) − log(Σ_x n_c(x) + α·M)
// A window's score for c is Σ_x count(x)·log P(x | c) with a uniform prior (training draws species
// uniformly); probabilities are the softmax of the scores (naive Bayes: typically overconfident).
// Counts are stored as NumPy .npy, little-endian float64 (exact integers to 2^53), shape (C, 4^k),
// indexed by the 2-bit code A=0 C=1 G=2 T=3, first base most significant; non-canonical slots are 0.
import { readFile, writeFile } from 'node:fs/promises';
import { npyHeader } from '../embed/npy.js';
import { InputError } from '../errors.js';
import { TOKEN } from '../tokenizer/index.js';
import { softmax } from './head.js';

export const MAX_K = 12;

/** 2-bit code of a token id: A C G T → 0 1 2 3, anything else −1. */
function code(id: number): number {
  return id >= TOKEN.A && id <= TOKEN.T ? id - TOKEN.A : -1;
}

/** Number of canonical k-mers: (4^k + 4^(k/2))/2 for even k (palindromes), 4^k/2 for odd k. */
export function canonicalCount(k: number): number {
  return k % 2 === 0 ? (4 ** k + 4 ** (k / 2)) / 2 : 4 ** k / 2;
}

/** Calls f(canonical code) for every ACGT-only k-mer of ids. */
export function forEachCanonicalKmer(ids: Uint8Array, k: number, f: (x: number) => void): void {
  const mask = 4 ** k - 1;
  let fwd = 0;
  let rev = 0;
  let run = 0;
  for (let i = 0; i < ids.length; i++) {
    const c = code(ids[i]);
    if (c < 0) {
      run = 0;
      fwd = rev = 0;
      continue;
    }
    fwd = (fwd * 4 + c) % (mask + 1); // k ≤ 12: below 2^26, exact
    rev = Math.floor(rev / 4) + (3 - c) * 4 ** (k - 1);
    if (++run >= k) f(fwd < rev ? fwd : rev);
  }
}

/** Adds the canonical k-mer counts of ids into counts (4^k). */
export function addKmerCounts(ids: Uint8Array, k: number, counts: Float64Array): void {
  forEachCanonicalKmer(ids, k, (x) => { counts[x]++; });
}

export class KmerModel {
  readonly size: number;
  /** log P(x | c), (C, 4^k); non-canonical slots unused */
  readonly logProb: Float64Array;

  constructor(readonly k: number, readonly alpha: number, readonly species: readonly string[], readonly counts: Float64Array) {
    if (!(Number.isInteger(k) && k >= 1 && k <= MAX_K)) throw new RangeError(`k = ${k} must be an integer in [1, ${MAX_K}]`);
    if (!(alpha > 0)) throw new RangeError(`alpha = ${alpha} must be positive`);
    this.size = 4 ** k;
    const C = species.length;
    if (counts.length !== C * this.size) throw new RangeError(`counts hold ${counts.length} values, expected C·4^k = ${C * this.size}`);
    const M = canonicalCount(k);
    this.logProb = new Float64Array(C * this.size);
    for (let c = 0; c < C; c++) {
      let total = 0;
      for (let x = 0; x < this.size; x++) total += counts[c * this.size + x];
      const logDen = Math.log(total + alpha * M);
      for (let x = 0; x < this.size; x++) this.logProb[c * this.size + x] = Math.log(counts[c * this.size + x] + alpha) - logDen;
    }
  }

  static empty(k: number, alpha: number, species: readonly string[]): Float64Array {
    return new Float64Array(species.length * 4 ** k);
  }

  /** Log-likelihood of the window under each species (C). */
  scores(ids: Uint8Array): Float64Array {
    const C = this.species.length;
    const s = new Float64Array(C);
    forEachCanonicalKmer(ids, this.k, (x) => {
      for (let c = 0; c < C; c++) s[c] += this.logProb[c * this.size + x];
    });
    return s;
  }

  probabilities(ids: Uint8Array): Float64Array {
    return softmax(this.scores(ids));
  }
}

export async function writeKmerCounts(path: string, counts: Float64Array, C: number, k: number): Promise<void> {
  const header = npyHeader([C, 4 ** k], '<f8');
  const body = Buffer.from(counts.buffer, counts.byteOffset, counts.byteLength);
  await writeFile(path, Buffer.concat([header, body]));
}

/** Reads a counts file written by writeKmerCounts; InputError for anything else. */
export async function readKmerCounts(path: string, C: number, k: number): Promise<Float64Array> {
  let buf: Buffer;
  try {
    buf = await readFile(path);
  } catch {
    throw new InputError(`${path}: missing; the k-mer classifier directory is incomplete (train it again)`);
  }
  const bad = (why: string) => new InputError(`${path}: ${why}; the k-mer classifier directory is damaged (train it again)`);
  if (buf.length < 10 || buf.toString('latin1', 0, 6) !== '\x93NUMPY' || buf[6] !== 1) throw bad('not a NumPy .npy (version 1) file');
  const hlen = buf.readUInt16LE(8);
  const dict = buf.toString('latin1', 10, 10 + hlen);
  const shape = /'shape': \((\d+), (\d+)\)/.exec(dict);
  if (!dict.includes("'descr': '<f8'") || !shape) throw bad(`header ${dict.trim()} is not a float64 (C, 4^k) array`);
  if (Number(shape[1]) !== C || Number(shape[2]) !== 4 ** k) throw bad(`shape (${shape[1]}, ${shape[2]}) does not match ${C} species and k = ${k}`);
  const n = C * 4 ** k;
  if (buf.length !== 10 + hlen + 8 * n) throw bad(`holds ${buf.length - 10 - hlen} data bytes, expected ${8 * n}`);
  const out = new Float64Array(n);
  new Uint8Array(out.buffer).set(buf.subarray(10 + hlen));
  return out;
}
