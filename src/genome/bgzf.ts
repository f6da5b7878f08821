// BGZF (the SAM/BAM spec's "blocked gzip", section 4.1) writing and block-by-block reading, and the
// .gzi index htslib writes beside a BGZF FASTA. A BGZF file is a series of gzip members, each with a
// 'BC' extra subfield holding the member's size and at most 64 KiB uncompressed, then a fixed 28-byte
// empty member as end-of-file marker. .gzi = little-endian u64 count, then (compressed offset,
// uncompressed offset) u64 pairs for every block start but the first (0, 0) and the EOF block.
// Random reading of BGZF is left to @gmod/bgzf-filehandle (through @gmod/indexedfasta).
import { open, type FileHandle } from 'node:fs/promises';
import { constants as zc, crc32, deflateRawSync, inflateRawSync } from 'node:zlib';
import { InputError } from '../errors.js';

/** Uncompressed bytes per block: htslib's BGZF_BLOCK_SIZE, so that a compressed block always fits. */
export const BGZF_BLOCK_DATA = 0xff00;
const BGZF_MAX_BLOCK = 0x10000;
const HEADER_LEN = 18;
const FOOTER_LEN = 8;

/** The empty block every BGZF file ends with (SAM spec 4.1.2). */
export const BGZF_EOF = Buffer.from('1f8b08040000000000ff0600424302001b0003000000000000000000', 'hex');

export interface GziEntry {
  compressed: number;
  uncompressed: number;
}

/** One BGZF member holding `data` (≤ 64 KiB). */
export function bgzfBlock(data: Uint8Array, level = 6): Buffer {
  if (data.length > BGZF_MAX_BLOCK) throw new RangeError(`BGZF block data ${data.length} > 65536 bytes`);
  let cdata = deflateRawSync(data, { level });
  // Incompressible data can grow past the 64 KiB block limit; stored deflate blocks cannot.
  if (cdata.length + HEADER_LEN + FOOTER_LEN > BGZF_MAX_BLOCK) cdata = deflateRawSync(data, { level: zc.Z_NO_COMPRESSION });
  const size = HEADER_LEN + cdata.length + FOOTER_LEN;
  const block = Buffer.alloc(size);
  block.set([0x1f, 0x8b, 8, 4, 0, 0, 0, 0, 0, 0xff, 6, 0, 0x42, 0x43, 2, 0], 0);
  block.writeUInt16LE(size - 1, 16);
  block.set(cdata, HEADER_LEN);
  block.writeUInt32LE(crc32(data), size - 8);
  block.writeUInt32LE(data.length, size - 4);
  return block;
}

/** Streams bytes into a BGZF file, remembering block starts for the .gzi. */
export class BgzfWriter {
  private readonly pending: Buffer;
  private fill = 0;
  private compressedOffset = 0;
  private uncompressedOffset = 0;
  readonly gzi: GziEntry[] = [];

  private constructor(private readonly fh: FileHandle, private readonly level: number, private readonly blockData: number) {
    this.pending = Buffer.alloc(blockData);
  }

  /** `blockData`: uncompressed bytes per block (smaller than the default only to test block crossings). */
  static async create(path: string, level = 6, blockData = BGZF_BLOCK_DATA): Promise<BgzfWriter> {
    if (!(blockData >= 1 && blockData <= BGZF_BLOCK_DATA)) throw new RangeError(`BGZF block size ${blockData} not in 1..${BGZF_BLOCK_DATA}`);
    return new BgzfWriter(await open(path, 'w'), level, blockData);
  }

  async write(chunk: Uint8Array): Promise<void> {
    let at = 0;
    while (at < chunk.length) {
      const n = Math.min(chunk.length - at, this.blockData - this.fill);
      this.pending.set(chunk.subarray(at, at + n), this.fill);
      this.fill += n;
      at += n;
      if (this.fill === this.blockData) await this.flushBlock();
    }
  }

  private async flushBlock(): Promise<void> {
    if (this.fill === 0) return;
    if (this.compressedOffset > 0) this.gzi.push({ compressed: this.compressedOffset, uncompressed: this.uncompressedOffset });
    const block = bgzfBlock(this.pending.subarray(0, this.fill), this.level);
    await this.fh.write(block);
    this.compressedOffset += block.length;
    this.uncompressedOffset += this.fill;
    this.fill = 0;
  }

  /** Writes the last partial block and the EOF marker; returns the .gzi entries. */
  async close(): Promise<GziEntry[]> {
    await this.flushBlock();
    await this.fh.write(BGZF_EOF);
    await this.fh.close();
    return this.gzi;
  }

  /** Closes the file without finishing it (after an error; the caller removes it). */
  async abort(): Promise<void> {
    await this.fh.close().catch(() => undefined);
  }
}

export function encodeGzi(entries: readonly GziEntry[]): Buffer {
  const out = Buffer.alloc(8 + 16 * entries.length);
  out.writeBigUInt64LE(BigInt(entries.length), 0);
  entries.forEach((e, i) => {
    out.writeBigUInt64LE(BigInt(e.compressed), 8 + 16 * i);
    out.writeBigUInt64LE(BigInt(e.uncompressed), 16 + 16 * i);
  });
  return out;
}

/** Parses a .gzi; throws InputError naming `path` when its size or ordering is impossible. */
export function decodeGzi(buf: Buffer, path: string, fastaPath: string): GziEntry[] {
  const fix = `rerun 'mamba-dna index ${fastaPath}'`;
  if (buf.length < 8) throw new InputError(`${path}: too short for a .gzi index (${buf.length} bytes); ${fix}`);
  const n = Number(buf.readBigUInt64LE(0));
  if (buf.length !== 8 + 16 * n) throw new InputError(`${path}: not a .gzi index (says ${n} entries but holds ${buf.length} bytes); ${fix}`);
  const entries: GziEntry[] = [];
  let prev: GziEntry = { compressed: 0, uncompressed: 0 };
  for (let i = 0; i < n; i++) {
    const e = { compressed: Number(buf.readBigUInt64LE(8 + 16 * i)), uncompressed: Number(buf.readBigUInt64LE(16 + 16 * i)) };
    if (e.compressed <= prev.compressed || e.uncompressed <= prev.uncompressed) {
      throw new InputError(`${path}: entry ${i + 1} is not after the one before it; ${fix}`);
    }
    entries.push(e);
    prev = e;
  }
  return entries;
}

export interface BgzfBlockInfo {
  /** offset of the block in the compressed file */
  compressed: number;
  /** total block size in bytes */
  size: number;
  /** uncompressed bytes it holds (ISIZE) */
  dataLength: number;
}

/** Size of a BGZF member starting at `at` in `buf`, or undefined when `buf` is not a BGZF header there. */
export function bgzfBlockSize(buf: Uint8Array, at = 0): number | undefined {
  if (buf.length - at < HEADER_LEN) return undefined;
  if (buf[at] !== 0x1f || buf[at + 1] !== 0x8b || buf[at + 2] !== 8 || (buf[at + 3]! & 4) === 0) return undefined;
  const xlen = buf[at + 10]! | (buf[at + 11]! << 8);
  let p = at + 12;
  const end = p + xlen;
  while (p + 4 <= end && end <= buf.length) {
    const slen = buf[p + 2]! | (buf[p + 3]! << 8);
    if (buf[p] === 0x42 && buf[p + 1] === 0x43 && slen === 2) return (buf[p + 4]! | (buf[p + 5]! << 8)) + 1;
    p += 4 + slen;
  }
  return undefined;
}

/**
 * Reads a BGZF file block by block, yielding each block's place and inflated bytes. Throws InputError
 * naming the byte offset when a member is not BGZF or is truncated.
 */
export async function* readBgzfBlocks(path: string, from = 0): AsyncGenerator<BgzfBlockInfo & { data: Buffer }> {
  const fh = await open(path, 'r');
  try {
    const size = (await fh.stat()).size;
    const bufSize = 4 << 20;
    let buf = Buffer.alloc(bufSize);
    let bufStart = from; // file offset of buf[0]
    let bufLen = 0;
    let at = from;
    while (at < size) {
      // keep at least one whole block (≤ 64 KiB) in the buffer
      if (at + BGZF_MAX_BLOCK > bufStart + bufLen && bufStart + bufLen < size) {
        const keep = buf.subarray(at - bufStart, bufLen);
        const next = Buffer.alloc(bufSize);
        keep.copy(next, 0);
        const { bytesRead } = await fh.read(next, keep.length, bufSize - keep.length, at + keep.length);
        buf = next;
        bufStart = at;
        bufLen = keep.length + bytesRead;
      }
      const rel = at - bufStart;
      const blockSize = bgzfBlockSize(buf.subarray(0, bufLen), rel);
      if (blockSize === undefined || rel + blockSize > bufLen) {
        throw new InputError(`${path}: byte ${at} is not the start of a whole BGZF block (file damaged or truncated); recompress it with 'mamba-dna index --bgzip'`);
      }
      const block = buf.subarray(rel, rel + blockSize);
      const xlen = block[10]! | (block[11]! << 8);
      const dataLength = block.readUInt32LE(blockSize - 4);
      let data: Buffer;
      try {
        data = inflateRawSync(block.subarray(12 + xlen, blockSize - FOOTER_LEN));
      } catch {
        throw new InputError(`${path}: BGZF block at byte ${at} does not inflate (file damaged); recompress it`);
      }
      if (data.length !== dataLength || crc32(data) !== block.readUInt32LE(blockSize - 8)) {
        throw new InputError(`${path}: BGZF block at byte ${at} fails its length/CRC check (file damaged); recompress it`);
      }
      yield { compressed: at, size: blockSize, dataLength, data };
      at += blockSize;
    }
  } finally {
    await fh.close();
  }
}

/** Uncompressed size of a BGZF file, walking block headers from the last .gzi entry (no inflating). */
export async function bgzfUncompressedSize(path: string, gzi: readonly GziEntry[], gziPath: string): Promise<number> {
  const last = gzi.length > 0 ? gzi[gzi.length - 1]! : { compressed: 0, uncompressed: 0 };
  const fh = await open(path, 'r');
  try {
    const size = (await fh.stat()).size;
    const head = Buffer.alloc(HEADER_LEN);
    const tail = Buffer.alloc(4);
    let at = last.compressed;
    let total = last.uncompressed;
    while (at < size) {
      await fh.read(head, 0, HEADER_LEN, at);
      const blockSize = bgzfBlockSize(head);
      if (blockSize === undefined || at + blockSize > size) {
        throw new InputError(`${gziPath}: does not match ${path} (no BGZF block at byte ${at}); rerun 'mamba-dna index ${path}'`);
      }
      await fh.read(tail, 0, 4, at + blockSize - 4);
      total += tail.readUInt32LE(0);
      at += blockSize;
    }
    return total;
  } finally {
    await fh.close();
  }
}
