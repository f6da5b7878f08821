// Reverse complement of bases (strings, case kept, IUPAC codes complemented) and of token ids
// (A↔T, C↔G, N→N; special tokens map to themselves and are only moved by the reversal).
import { InputError } from '../errors.js';
import { describeChar } from './encode.js';
import { TOKEN, VOCAB_SIZE } from './vocab.js';

const COMPLEMENT_PAIRS = 'AT CG RY KM BV DH NN SS WW';

/** byte → complement byte, 0 where the byte is not a nucleotide or IUPAC code. */
const COMPLEMENT_BYTE: Uint8Array = (() => {
  const t = new Uint8Array(256);
  for (const pair of COMPLEMENT_PAIRS.split(' ')) {
    const [a, b] = [pair.charCodeAt(0), pair.charCodeAt(1)];
    t[a] = b;
    t[b] = a;
    t[a | 0x20] = b | 0x20; // lowercase keeps lowercase
    t[b | 0x20] = a | 0x20;
  }
  return t;
})();

/** id → complement id. */
export const COMPLEMENT_ID: Uint8Array = (() => {
  const t = Uint8Array.from({ length: VOCAB_SIZE }, (_, i) => i);
  t[TOKEN.A] = TOKEN.T;
  t[TOKEN.T] = TOKEN.A;
  t[TOKEN.C] = TOKEN.G;
  t[TOKEN.G] = TOKEN.C;
  return t;
})();

/** Reverse complement of a base string; case is preserved (soft-masking survives), IUPAC codes complemented. */
export function reverseComplement(seq: string): string {
  const n = seq.length;
  const out = Buffer.allocUnsafe(n);
  for (let i = 0; i < n; i++) {
    const c = seq.charCodeAt(i);
    const r = c < 256 ? COMPLEMENT_BYTE[c] : 0;
    if (r === 0) throw new InputError(`position ${(i + 1).toLocaleString('en-US')} of the input: ${describeChar(c)} is not a nucleotide or IUPAC code`);
    out[n - 1 - i] = r;
  }
  return out.toString('latin1');
}

/**
 * Reverse complement of token ids into `out` (defaults to a new array; `out === ids` works in place).
 * Throws RangeError for an id outside the vocabulary.
 */
export function reverseComplementIds(ids: Uint8Array, out: Uint8Array = new Uint8Array(ids.length)): Uint8Array {
  const n = ids.length;
  if (out.length < n) throw new RangeError(`reverseComplementIds: output holds ${out.length} ids, need ${n}`);
  for (let i = 0, j = n - 1; i <= j; i++, j--) {
    const a = ids[i];
    const b = ids[j];
    if (a >= VOCAB_SIZE || b >= VOCAB_SIZE) throw new RangeError(`reverseComplementIds: id ${a >= VOCAB_SIZE ? a : b} is outside the vocabulary`);
    out[i] = COMPLEMENT_ID[b];
    out[j] = COMPLEMENT_ID[a];
  }
  return out;
}
