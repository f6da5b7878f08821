import test from 'ava';
import { InputError } from '../../src/errors.js';
import {
  BYTE_TO_ID, PADDED_VOCAB_SIZE, TOKEN, VOCAB, VOCAB_SIZE, decode, encode, encodeBytes,
  reverseComplement, reverseComplementIds, toInt32,
} from '../../src/tokenizer/index.js';
import { Rng } from '../../src/data/rng.js';

test('vocabulary ids are exactly HyenaDNA\'s CharacterTokenizer ids', (t) => {
  t.deepEqual([...VOCAB], ['[CLS]', '[SEP]', '[BOS]', '[MASK]', '[PAD]', '[RESERVED]', '[UNK]', 'A', 'C', 'G', 'T', 'N']);
  t.deepEqual({ ...TOKEN }, { CLS: 0, SEP: 1, BOS: 2, MASK: 3, PAD: 4, RESERVED: 5, UNK: 6, A: 7, C: 8, G: 9, T: 10, N: 11 });
  t.is(VOCAB_SIZE, 12);
  t.is(PADDED_VOCAB_SIZE, 16);
  t.deepEqual([...encode('ACGTN')], [7, 8, 9, 10, 11]);
});

test('lowercase (soft-masked) bases map like uppercase', (t) => {
  t.deepEqual(encode('acgtn'), encode('ACGTN'));
  t.deepEqual(encode('AcGtNnTa'), encode('ACGTNNTA'));
});

test('every IUPAC ambiguity code, either case, maps to N', (t) => {
  for (const c of 'RYSWKMBDHVrysw kmbdhv'.replace(' ', '')) t.is(encode(c)[0], TOKEN.N, c);
});

test('exactly 30 bytes are accepted: ACGTN and 10 IUPAC codes in two cases', (t) => {
  const accepted = [...BYTE_TO_ID].map((id, b) => (id !== 0xff ? String.fromCharCode(b) : '')).join('');
  t.is(accepted, 'ABCDGHKMNRSTVWYabcdghkmnrstvwy');
});

test('an invalid byte is an InputError naming the byte (printable + hex) and its 1-based position', (t) => {
  const e1 = t.throws(() => encode('ACGTX'), { instanceOf: InputError });
  t.is(e1.message, "position 5 of the input: byte 'X' (0x58) is not a nucleotide or IUPAC code (expected A C G T N, either case, or R Y S W K M B D H V)");
  const e2 = t.throws(() => encode('AC\nGT', undefined, { name: 'chr1', offset: 1_234_564 }), { instanceOf: InputError });
  t.regex(e2.message, /^chr1:1,234,567: byte '\\n' \(0x0a\) is not a nucleotide or IUPAC code/);
  const e3 = t.throws(() => encode('AU'), { instanceOf: InputError });
  t.regex(e3.message, /byte 'U' \(0x55\)/);
  const e4 = t.throws(() => encode('ACé'), { instanceOf: InputError });
  t.regex(e4.message, /position 3 .*\(0xe9\)/);
  const e5 = t.throws(() => encode('A\u4e00'), { instanceOf: InputError });
  t.regex(e5.message, /position 2 .*character .*\(U\+4E00\)/);
  const e6 = t.throws(() => encodeBytes(Uint8Array.of(65, 0, 67)), { instanceOf: InputError });
  t.regex(e6.message, /position 2 .*byte '\\x00' \(0x00\)/);
});

test('long inputs (the native fast path) report bad bytes the same way, non-ASCII included', (t) => {
  const long = 'ACGT'.repeat(300);
  t.deepEqual(encode(long.toLowerCase() + 'nRy'), encode(long + 'NNN'));
  const e1 = t.throws(() => encode(`${long}X${long}`, undefined, { name: 'chr2', offset: 0 }), { instanceOf: InputError });
  t.regex(e1.message, /^chr2:1,201: byte 'X' \(0x58\)/);
  // U+0141 would become 0x41 'A' if written as latin1 unchecked: it must be an error.
  const e2 = t.throws(() => encode(`${long}\u0141`), { instanceOf: InputError });
  t.regex(e2.message, /position 1,201 .*\(U\+0141\)/);
  const e3 = t.throws(() => encode(`${long}\u00e9`), { instanceOf: InputError });
  t.regex(e3.message, /position 1,201 .*\(0xe9\)/);
});

test('encode writes into a caller buffer; encodeBytes agrees with encode', (t) => {
  const rng = Rng.derive(1);
  const alphabet = 'ACGTNacgtnRYSWKMBDHVrysw';
  let s = '';
  for (let i = 0; i < 1001; i++) s += alphabet[rng.nextInt(alphabet.length)];
  const buf = new Uint8Array(2000).fill(99);
  const ids = encode(s, buf);
  t.is(ids.buffer, buf.buffer);
  t.is(ids.length, 1001);
  t.is(buf[1001], 99);
  t.deepEqual(encodeBytes(Buffer.from(s, 'latin1')), encode(s));
  t.throws(() => encode('ACGT', new Uint8Array(3)), { instanceOf: RangeError });
});

test('decode inverts encode on uppercase ACGTN and names special tokens', (t) => {
  t.is(decode(encode('GATTACANNacgt')), 'GATTACANNACGT');
  t.is(decode([0, 7, 8, 1, 4]), '[CLS]AC[SEP][PAD]');
  t.is(decode(new Int32Array([9, 10])), 'GT');
  const e = t.throws(() => decode([7, 12]), { instanceOf: InputError });
  t.regex(e.message, /token 1: id 12 is outside the vocabulary/);
  t.deepEqual([...toInt32(encode('ACGT'))], [7, 8, 9, 10]);
});

test('reverse complement of strings: known answers, case kept, IUPAC complemented', (t) => {
  t.is(reverseComplement('ACGTN'), 'NACGT');
  t.is(reverseComplement('AAcgT'), 'AcgTT');
  t.is(reverseComplement('RYKMBVDHSWN'), 'NWSDHBVKMRY');
  t.is(reverseComplement(''), '');
  t.throws(() => reverseComplement('ACX'), { instanceOf: InputError, message: /position 3 .*'X'/ });
});

test('reverse complement is an involution and commutes with encode', (t) => {
  const rng = Rng.derive(2);
  for (const n of [0, 1, 2, 3, 257, 1000]) {
    let s = '';
    for (let i = 0; i < n; i++) s += 'ACGTNacgtnRYSWKMBDHVrysw'[rng.nextInt(24)];
    t.is(reverseComplement(reverseComplement(s)), s);
    const ids = encode(s);
    t.deepEqual(reverseComplementIds(reverseComplementIds(ids)), ids);
    t.deepEqual(reverseComplementIds(ids), encode(reverseComplement(s)));
    const inPlace = ids.slice();
    reverseComplementIds(inPlace, inPlace);
    t.deepEqual(inPlace, reverseComplementIds(ids), `in place, n=${n}`);
  }
  t.deepEqual([...reverseComplementIds(Uint8Array.of(2, 7, 8, 11, 1))], [1, 11, 9, 10, 2]);
});
