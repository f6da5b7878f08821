// `mamba-dna index`: writes <fasta>.fai (and <fasta>.gzi for BGZF) by streaming the file once, or with
// `bgzip` first recompresses a plain or plain-gzip FASTA to BGZF (our own writer, bgzf.ts) and indexes
// the copy in the same pass. Nothing is held in memory beyond one chunk; outputs appear atomically.
import { randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { access, rename, rm, writeFile } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { createGunzip } from 'node:zlib';
import { InputError, UsageError } from '../errors.js';
import { BgzfWriter, encodeGzi, readBgzfBlocks, type GziEntry } from './bgzf.js';
import { FaiBuilder, formatFai, type FaiRecord } from './fai.js';
import { checkInputFile, detectCompression, plainGzipMessage, type Compression } from './source.js';

export interface IndexOptions {
  /** write a BGZF copy (from plain or plain-gzip input) and index that */
  bgzip?: boolean;
  /** path of the BGZF copy (default: see defaultBgzfPath) */
  out?: string;
  /** replace an existing BGZF copy */
  force?: boolean;
  /** deflate level of the BGZF copy, 0-9 */
  level?: number;
  /** uncompressed bytes per BGZF block (default 65280, as htslib; smaller only for test fixtures) */
  blockSize?: number;
}

export interface IndexResult {
  /** the FASTA the index belongs to (the BGZF copy when one was written) */
  fasta: string;
  fai: string;
  gzi?: string;
  /** the input's compression */
  input: Compression;
  wroteBgzf: boolean;
  records: FaiRecord[];
  /** one line each: skipped empty records and repeated names (file:line) */
  warnings: string[];
}

/** x.fa → x.fa.gz; plain-gzip x.fa.gz → x.bgz.fa.gz (never the input's own name). */
export function defaultBgzfPath(path: string, input: Compression): string {
  if (input === 'none') return `${path}.gz`;
  const base = path.replace(/\.gz$/i, '');
  const ext = /\.[^./\\]+$/.exec(basename(base))?.[0] ?? '';
  return `${base.slice(0, base.length - ext.length)}.bgz${ext}.gz`;
}

/** Writes a file through a temporary sibling and a rename, so a failed run leaves no half file. */
async function writeFileAtomic(path: string, data: string | Uint8Array): Promise<void> {
  const tmp = join(dirname(path), `.${basename(path)}.${randomBytes(4).toString('hex')}.tmp`);
  try {
    await writeFile(tmp, data);
    await rename(tmp, path);
  } catch (err) {
    await rm(tmp, { force: true });
    throw writeError(path, err);
  }
}

function writeError(path: string, err: unknown): unknown {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'EACCES' || code === 'EROFS' || code === 'EPERM') {
    return new InputError(`${path}: cannot write here (${code}); copy the FASTA to a writable folder, or with --bgzip choose --out`);
  }
  return err;
}

async function exists(path: string): Promise<boolean> {
  return access(path).then(() => true, () => false);
}

function gunzipError(path: string, err: unknown): unknown {
  const e = err as NodeJS.ErrnoException;
  if (typeof e.code === 'string' && e.code.startsWith('Z_')) return new InputError(`${path}: gzip data is damaged (${e.message}); download the file again`);
  return err;
}

export async function indexFasta(path: string, opts: IndexOptions = {}): Promise<IndexResult> {
  await checkInputFile(path, 'FASTA file');
  const input = await detectCompression(path);
  if (opts.out !== undefined && !opts.bgzip) throw new UsageError('--out names the BGZF copy; use it with --bgzip');

  if (input === 'bgzf') {
    // Already BGZF (bgzip's output or ours): index in place, as `samtools faidx x.fa.gz` does.
    const builder = new FaiBuilder(path);
    const gzi: GziEntry[] = [];
    let uncompressed = 0;
    for await (const block of readBgzfBlocks(path)) {
      if (block.compressed > 0 && block.dataLength > 0) gzi.push({ compressed: block.compressed, uncompressed });
      builder.push(block.data);
      uncompressed += block.dataLength;
    }
    const records = builder.finish();
    await writeFileAtomic(`${path}.fai`, formatFai(records));
    await writeFileAtomic(`${path}.gzi`, encodeGzi(gzi));
    return { fasta: path, fai: `${path}.fai`, gzi: `${path}.gzi`, input, wroteBgzf: false, records, warnings: builder.warnings };
  }

  if (!opts.bgzip) {
    if (input === 'gzip') throw new InputError(plainGzipMessage(path));
    const builder = new FaiBuilder(path);
    for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 })) builder.push(chunk as Buffer);
    const records = builder.finish();
    await writeFileAtomic(`${path}.fai`, formatFai(records));
    return { fasta: path, fai: `${path}.fai`, input, wroteBgzf: false, records, warnings: builder.warnings };
  }

  const out = opts.out ?? defaultBgzfPath(path, input);
  if (resolve(out) === resolve(path)) throw new UsageError(`--out ${out} is the input file; choose another name`);
  if (!opts.force && (await exists(out))) throw new UsageError(`${out} already exists; pass --force to replace it, or --out to choose another name`);
  const tmp = join(dirname(out), `.${basename(out)}.${randomBytes(4).toString('hex')}.tmp`);
  let writer: BgzfWriter;
  try {
    writer = await BgzfWriter.create(tmp, opts.level ?? 6, opts.blockSize);
  } catch (err) {
    throw writeError(out, err);
  }
  const builder = new FaiBuilder(path);
  try {
    const raw = createReadStream(path, { highWaterMark: 1 << 20 });
    const stream = input === 'gzip' ? raw.pipe(createGunzip()) : raw;
    if (input === 'gzip') raw.on('error', (err) => stream.destroy(err));
    try {
      for await (const chunk of stream) {
        builder.push(chunk as Buffer);
        await writer.write(chunk as Buffer);
      }
    } catch (err) {
      throw gunzipError(path, err);
    }
    const records = builder.finish();
    const gzi = await writer.close();
    await rename(tmp, out);
    await writeFileAtomic(`${out}.fai`, formatFai(records));
    await writeFileAtomic(`${out}.gzi`, encodeGzi(gzi));
    return { fasta: out, fai: `${out}.fai`, gzi: `${out}.gzi`, input, wroteBgzf: true, records, warnings: builder.warnings };
  } catch (err) {
    await writer.abort();
    await rm(tmp, { force: true });
    throw writeError(out, err);
  }
}
