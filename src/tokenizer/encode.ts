// Bases → token ids and back. A 256-entry table maps each byte; encoding writes into a Uint8Array
// with no per-character allocation. Lowercase (soft-masked) bases fold to uppercase ids; IUPAC
// ambiguity codes (R Y S W K M B D H V) become N. Anything else, U included (this is DNA), is an error.
import { InputError } from '../errors.js';
import { TOKEN, VOCAB, VOCAB_SIZE } from './vocab.js';

const INVALID = 0xff;

/** byte → token id, or 0xff for a byte that is not a nucleotide or IUPAC code. */
export const BYTE_TO_ID: Uint8Array = (() => {
  const t = new Uint8Array(256).fill(INVALID);
  const set = (chars: string, id: number) => {
    for (const c of chars) {
      t[c.charCodeAt(0)] = id;
      t[c.toLowerCase().charCodeAt(0)] = id;
    }
  };
  set('A', TOKEN.A);
  set('C', TOKEN.C);
  set('G', TOKEN.G);
  set('T', TOKEN.T);
  set('N', TOKEN.N);
  set('RYSWKMBDHV', TOKEN.N);
  return t;
})();

/** Where a string of bases came from, so an error can say `chr1:1,234,567`. */
export interface SourcePosition {
  /** sequence name (or file) the bases were read from */
  name: string;
  /** 0-based coordinate of the first base of the string within that sequence */
  offset: number;
}

/** Describes one character for an error message: printable as 'X', otherwise escaped, plus its code. */
export function describeChar(code: number): string {
  if (code > 0xff) return `character '${String.fromCharCode(code)}' (U+${code.toString(16).toUpperCase().padStart(4, '0')})`;
  const hex = `0x${code.toString(16).padStart(2, '0')}`;
  const escapes: Record<number, string> = { 0x09: '\\t', 0x0a: '\\n', 0x0d: '\\r', 0x20: ' ' };
  const shown = escapes[code] ?? (code > 0x20 && code < 0x7f ? String.fromCharCode(code) : `\\x${hex.slice(2)}`);
  return `byte '${shown}' (${hex})`;
}

/** Error for the first invalid character at index i of the input. Positions are 1-based, like the CLI's. */
function invalidBase(code: number, i: number, where?: SourcePosition): InputError {
  const at = where
    ? `${where.name}:${(where.offset + i + 1).toLocaleString('en-US')}`
    : `position ${(i + 1).toLocaleString('en-US')} of the input`;
  return new InputError(`${at}: ${describeChar(code)} is not a nucleotide or IUPAC code (expected A C G T N, either case, or R Y S W K M B D H V)`);
}

/**
 * Encodes bases (a string as Genome.fetch returns it) into token ids. Writes into `out` when given
 * (it must hold seq.length ids) and returns the ids written. Throws InputError naming the first bad
 * character and its position.
 */
export function encode(seq: string, out?: Uint8Array, where?: SourcePosition): Uint8Array {
  const n = seq.length;
  const ids = out ? out.subarray(0, n) : new Uint8Array(n);
  if (ids.length < n) throw new RangeError(`encode: output holds ${out!.length} ids, need ${n}`);
  // Fast path (1.4-1.9x a charCodeAt loop on E. coli, docs/benchmarks.md): let Node copy the
  // string's bytes into `ids` natively, then map them in place. Only valid when every character is
  // ASCII (latin1 writing would truncate U+0141 to 0x41 'A'), which a native UTF-8 length check proves.
  if (n >= 64 && Buffer.byteLength(seq, 'utf8') === n) {
    Buffer.from(ids.buffer, ids.byteOffset, n).write(seq, 0, n, 'latin1');
    return mapInPlace(ids, where);
  }
  // OR every id together: valid ids are < 16, so bit 7 is set iff some byte was invalid. One branch
  // after the loop instead of one per base.
  let seen = 0;
  for (let i = 0; i < n; i++) {
    const c = seq.charCodeAt(i);
    const id = c < 256 ? BYTE_TO_ID[c] : INVALID;
    ids[i] = id;
    seen |= id;
  }
  if (seen & 0x80) {
    for (let i = 0; i < n; i++) if (ids[i] === INVALID) throw invalidBase(seq.charCodeAt(i), i, where);
  }
  return ids;
}

/** bytes → ids in place; on an invalid byte, throws naming it (the bytes before it are already ids). */
function mapInPlace(ids: Uint8Array, where?: SourcePosition): Uint8Array {
  const n = ids.length;
  let i = 0;
  for (; i < n; i++) {
    const id = BYTE_TO_ID[ids[i]];
    if (id === INVALID) break;
    ids[i] = id;
  }
  if (i < n) throw invalidBase(ids[i], i, where);
  return ids;
}

/** Same as encode() for ASCII bytes (e.g. a FASTA sequence line read as a Buffer). */
export function encodeBytes(bytes: Uint8Array, out?: Uint8Array, where?: SourcePosition): Uint8Array {
  const n = bytes.length;
  const ids = out ? out.subarray(0, n) : new Uint8Array(n);
  if (ids.length < n) throw new RangeError(`encodeBytes: output holds ${out!.length} ids, need ${n}`);
  let seen = 0;
  for (let i = 0; i < n; i++) {
    const id = BYTE_TO_ID[bytes[i]];
    ids[i] = id;
    seen |= id;
  }
  if (seen & 0x80) {
    for (let i = 0; i < n; i++) if (ids[i] === INVALID) throw invalidBase(bytes[i], i, where);
  }
  return ids;
}

/** id → the single character of a base, or '' for special tokens (filled from VOCAB below). */
const ID_TO_CHAR: string[] = VOCAB.map((tok) => (tok.length === 1 ? tok : ''));
const ID_TO_BYTE: Uint8Array = Uint8Array.from(VOCAB, (tok) => (tok.length === 1 ? tok.charCodeAt(0) : 0));

/**
 * Token ids → text. Bases decode to one letter each (uppercase: case is not in the vocabulary);
 * special tokens decode to their bracketed names ([PAD], [CLS], …). An id outside the vocabulary
 * (≥ 12, e.g. a padded-vocab logit argmax) throws InputError naming it and its index.
 */
export function decode(ids: ArrayLike<number>): string {
  const n = ids.length;
  // Fast path for pure bases: build bytes, decode once.
  const bytes = new Uint8Array(n);
  let special = false;
  for (let i = 0; i < n; i++) {
    const id = ids[i];
    if (!(id >= TOKEN.A && id <= TOKEN.N)) {
      if (!(id >= 0 && id < VOCAB_SIZE && Number.isInteger(id))) {
        throw new InputError(`token ${i.toLocaleString('en-US')}: id ${id} is outside the vocabulary (0..${VOCAB_SIZE - 1})`);
      }
      special = true;
    }
    bytes[i] = ID_TO_BYTE[id] ?? 0;
  }
  if (!special) return Buffer.from(bytes.buffer, bytes.byteOffset, n).toString('latin1');
  let s = '';
  for (let i = 0; i < n; i++) s += ID_TO_CHAR[ids[i]] || VOCAB[ids[i]];
  return s;
}

/** Ids widened to Int32Array (what embedding lookups in the model take). Uint8Array stays the storage form. */
export function toInt32(ids: Uint8Array): Int32Array {
  return Int32Array.from(ids);
}
