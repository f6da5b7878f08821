// The tokenizer: HyenaDNA's character vocabulary, byte-table encoding, decoding, reverse complement.
export { TOKEN, VOCAB, VOCAB_SIZE, PADDED_VOCAB_SIZE } from './vocab.js';
export { BYTE_TO_ID, encode, encodeBytes, decode, toInt32, describeChar, type SourcePosition } from './encode.js';
export { COMPLEMENT_ID, reverseComplement, reverseComplementIds } from './reverse-complement.js';
export { writeTokenized, type TextSink, type TokenizeOptions } from './stream.js';
