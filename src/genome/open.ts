// openGenome: the one way mamba-dna reads a FASTA. Plain FASTA + .fai through @gmod/indexedfasta's
// IndexedFasta, BGZF + .fai + .gzi through its BgzipIndexedFasta. That library trusts the .fai and
// returns header text or wrong bases when the index belongs to another file, so we check the index
// against the file: at open, every record must end inside the file; on a record's first fetch, its
// header line must end right before its offset and name it, and its line structure must match;
// every fetched string must have the requested length and hold only sequence letters.
import { BgzipIndexedFasta, IndexedFasta } from '@gmod/indexedfasta';
import { access, readFile } from 'node:fs/promises';
import { InputError } from '../errors.js';
import { bgzfUncompressedSize, decodeGzi } from './bgzf.js';
import { isSequenceText, parseFai, recordEnd, type FaiRecord } from './fai.js';
import { HeldFile } from './held-file.js';
import { checkInputFile, detectCompression, plainGzipMessage, type Compression } from './source.js';
import type { Genome, SequenceInfo } from './types.js';

interface ByteReader {
  read(length: number, position: number): Promise<Uint8Array>;
}

/** Up to `max` names, quoted, for "no sequence X (sequences: ...)" messages. */
export function someNames(names: readonly string[], max = 5): string {
  const shown = names.slice(0, max).map((n) => `'${n}'`).join(', ');
  return names.length > max ? `${shown}, … ${names.length} in all` : shown;
}

class IndexedGenome implements Genome {
  readonly sequences: readonly SequenceInfo[];
  private readonly byName = new Map<string, FaiRecord>();
  private readonly checked = new Map<string, Promise<void>>();

  constructor(
    readonly path: string,
    readonly compression: Compression,
    private readonly faiPath: string,
    readonly records: readonly FaiRecord[],
    private readonly fasta: IndexedFasta,
    private readonly bytes: ByteReader,
    private readonly dataSize: number,
    private readonly file: HeldFile,
  ) {
    for (const r of records) if (!this.byName.has(r.name)) this.byName.set(r.name, r);
    this.sequences = records.map((r) => ({ name: r.name, length: r.length }));
  }

  length(name: string): number | undefined {
    return this.byName.get(name)?.length;
  }

  private mismatch(why: string): InputError {
    return new InputError(`${this.faiPath}: does not match ${this.path} (${why}); rerun 'mamba-dna index ${this.path}'`);
  }

  /** Header line ends right before the offset and names the record; line ends where the .fai says. */
  private async checkRecord(r: FaiRecord): Promise<void> {
    const back = Math.min(r.offset, Buffer.byteLength(r.name) + 4096);
    const firstLine = Math.min(r.length, r.lineBases);
    const ahead = Math.min(this.dataSize - r.offset, r.length > r.lineBases ? r.lineBytes : firstLine + 2);
    const buf = Buffer.from(await this.bytes.read(back + ahead, r.offset - back));
    if (buf.length !== back + ahead) throw this.mismatch(`record '${r.name}' lies past the end of the file`);
    if (buf[back - 1] !== 10) throw this.mismatch(`no line break right before record '${r.name}' at byte ${r.offset}`);
    const lineStart = back >= 2 ? buf.lastIndexOf(10, back - 2) + 1 : 0;
    if (lineStart > 0 || back === r.offset) {
      const header = buf.subarray(lineStart, back - 1).toString('utf8').replace(/\r$/, '');
      const name = /^>\s*(\S+)/.exec(header)?.[1];
      if (name !== r.name) throw this.mismatch(`the line before byte ${r.offset} is not the header of '${r.name}'`);
    }
    const seq = buf.subarray(back, back + firstLine).toString('latin1');
    const after = buf.subarray(back + firstLine).toString('latin1');
    const okTerm =
      r.length > r.lineBases
        ? after === (r.lineBytes - r.lineBases === 2 ? '\r\n' : '\n')
        : after === '' || after === '\r' || after.startsWith('\n') || after.startsWith('\r\n');
    if (!isSequenceText(seq) || !okTerm) throw this.mismatch(`the first line of '${r.name}' is not ${r.lineBases} bases then a line break`);
  }

  async fetch(name: string, start: number, end: number): Promise<string> {
    const r = this.byName.get(name);
    if (!r) throw new InputError(`${this.path}: no sequence named '${name}' (sequences: ${someNames(this.records.map((x) => x.name))})`);
    if (!Number.isSafeInteger(start) || !Number.isSafeInteger(end) || start < 0 || end < start || end > r.length) {
      throw new InputError(
        `${this.path}: region ${name}:${start + 1}-${end} (1-based) is outside '${name}', which has ${r.length} bases (1-${r.length})`,
      );
    }
    if (start === end) return '';
    let check = this.checked.get(name);
    if (!check) {
      check = this.checkRecord(r);
      this.checked.set(name, check);
    }
    await check;
    const seq = await this.fasta.getSequence(name, start, end);
    if (seq === undefined || seq.length !== end - start || !isSequenceText(seq)) {
      throw this.mismatch(`bases ${start + 1}-${end} of '${name}' read back as ${seq === undefined ? 'nothing' : `${seq.length} characters that are not all sequence letters`}`);
    }
    return seq;
  }

  async close(): Promise<void> {
    await this.file.close();
  }
}

/** An opened genome plus what openGenome learned about its files. */
export interface OpenedGenome extends Genome {
  readonly compression: Compression;
  readonly records: readonly FaiRecord[];
}

/**
 * Opens an indexed FASTA (plain + .fai, or BGZF + .fai + .gzi). InputError, one line with the fix, for:
 * a missing file, a directory, an empty file, plain gzip, a missing/malformed/mismatched index.
 */
export async function openGenome(path: string): Promise<OpenedGenome> {
  const size = await checkInputFile(path, 'FASTA file');
  const compression = await detectCompression(path);
  if (compression === 'gzip') throw new InputError(plainGzipMessage(path));
  const faiPath = `${path}.fai`;
  const gziPath = `${path}.gzi`;
  const needIndex = (which: string) =>
    new InputError(`${path}: no index ${which} beside it; run 'mamba-dna index ${path}' to write it`);
  if (!(await access(faiPath).then(() => true, () => false))) throw needIndex(faiPath);
  const records = parseFai(await readFile(faiPath, 'utf8'), faiPath, path);

  let fasta: IndexedFasta;
  let dataSize: number;
  const file = new HeldFile(path);
  if (compression === 'bgzf') {
    if (!(await access(gziPath).then(() => true, () => false))) throw needIndex(gziPath);
    const gzi = decodeGzi(await readFile(gziPath), gziPath, path);
    dataSize = await bgzfUncompressedSize(path, gzi, gziPath);
    fasta = new BgzipIndexedFasta({ fasta: file as never, fai: new HeldFile(faiPath) as never, gzi: new HeldFile(gziPath) as never });
  } else {
    dataSize = size;
    fasta = new IndexedFasta({ fasta: file as never, fai: new HeldFile(faiPath) as never });
  }
  for (const r of records) {
    const end = recordEnd(r);
    if (end > dataSize) {
      throw new InputError(
        `${faiPath}: does not match ${path} (record '${r.name}' would end at byte ${end}, the file has ${dataSize}); rerun 'mamba-dna index ${path}'`,
      );
    }
  }
  const bytes = fasta.fasta as unknown as ByteReader;
  return new IndexedGenome(path, compression, faiPath, records, fasta, bytes, dataSize, file);
}
