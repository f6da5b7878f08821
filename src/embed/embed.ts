// `embed`: final-norm hidden states of a Mamba model over genome regions, streamed to a sink.
// Exactly the region's bases are fed (no special tokens); with pool 'none' row i is the hidden state
// after base i. Regions of any length stream through the model in chunks that carry its state, so
// memory is set by the chunk, not by the region.
import { open, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Genome, Region } from '../genome/types.js';
import type { MambaModel } from '../model/mamba.js';
import type { TextSink } from '../tokenizer/stream.js';
import { regionChunks } from '../data/region-chunks.js';
import { float32Bytes, npyHeader } from './npy.js';

export type Pool = 'none' | 'mean' | 'last';
export type EmbedFormat = 'tsv' | 'jsonl' | 'npy';

export interface EmbedOptions {
  pool: Pool;
  format: EmbedFormat;
  /** average with the embedding of the reverse complement (per base for pool 'none') */
  rcAverage: boolean;
  /** tokens per forward chunk */
  chunk: number;
  onProgress?: (tokensDone: number) => void;
}

/** How many rows embed will write for these regions (the .npy header needs it first). */
export function embedRowCount(regions: readonly Region[], pool: Pool): number {
  if (pool !== 'none') return regions.length;
  let n = 0;
  for (const r of regions) n += r.end - r.start;
  return n;
}

function formatNumber(v: number): string {
  // float32 carries ~7 significant digits; print no more
  return String(Number(v.toPrecision(7)));
}

/** Writes rows (n, D) for one region as text or binary. `firstPos` is the genome position of row 0 (pool none). */
async function writeRows(sink: TextSink, fmt: EmbedFormat, region: Region, rows: Float32Array, D: number, perBase: boolean, firstPos: number): Promise<void> {
  if (fmt === 'npy') return sink.write(float32Bytes(rows));
  const n = rows.length / D;
  const lines: string[] = [];
  for (let i = 0; i < n; i++) {
    const start = perBase ? firstPos + i : region.start;
    const end = perBase ? start + 1 : region.end;
    const vals: string[] = new Array(D);
    for (let k = 0; k < D; k++) vals[k] = formatNumber(rows[i * D + k]);
    if (fmt === 'tsv') lines.push(`${region.name}\t${start}\t${end}\t${vals.join('\t')}\n`);
    else lines.push(`${JSON.stringify({ chrom: region.name, start, end, embedding: vals.map(Number) })}\n`);
  }
  await sink.write(lines.join(''));
}

/** Streams the model over one strand of a region, handing each chunk's hidden rows (n, D) to `each`. */
async function runStrand(model: MambaModel, genome: Genome, region: Region, chunk: number, rc: boolean, each: (rows: Float32Array, offset: number) => Promise<void>, onProgress?: (n: number) => void): Promise<void> {
  let state = await model.initialState();
  try {
    for await (const { ids, offset } of regionChunks(genome, region, chunk, rc)) {
      const out = await model.forward(ids, state);
      state = out.state;
      const rows = await model.backend.read(out.hidden); // (n, D)
      model.backend.free(out.hidden);
      await each(rows, offset);
      onProgress?.(ids.length);
    }
  } finally {
    model.freeState(state);
  }
}

async function embedPooled(model: MambaModel, genome: Genome, region: Region, o: EmbedOptions): Promise<Float32Array> {
  const D = model.dims.D;
  const strands = o.rcAverage ? [false, true] : [false];
  const result = new Float64Array(D);
  for (const rc of strands) {
    const acc = new Float64Array(D);
    let last: Float32Array | undefined;
    await runStrand(model, genome, region, o.chunk, rc, async (rows) => {
      if (o.pool === 'mean') for (let i = 0; i < rows.length; i++) acc[i % D] += rows[i];
      else last = rows.subarray(rows.length - D);
    }, o.onProgress);
    const L = region.end - region.start;
    for (let k = 0; k < D; k++) result[k] += (o.pool === 'mean' ? acc[k] / L : last![k]) / strands.length;
  }
  return Float32Array.from(result);
}

/**
 * Per-base rows averaged over both strands: the minus strand runs first into a scratch file (row j
 * is the hidden state after reverse-complement token j, i.e. at base L-1-j), then the plus strand
 * reads the matching rows back in reverse. Memory stays bounded by the chunk; disk holds L × D floats.
 */
async function embedPerBaseRc(model: MambaModel, genome: Genome, region: Region, o: EmbedOptions, sink: TextSink): Promise<void> {
  const D = model.dims.D;
  const L = region.end - region.start;
  const dir = await mkdtemp(join(tmpdir(), 'mamba-dna-embed-'));
  const scratch = await open(join(dir, 'minus-strand.f32'), 'w+');
  try {
    await runStrand(model, genome, region, o.chunk, true, async (rows, offset) => {
      await scratch.write(float32Bytes(rows), 0, rows.byteLength, offset * D * 4);
    }, o.onProgress);
    const minus = Buffer.allocUnsafe(o.chunk * D * 4);
    await runStrand(model, genome, region, o.chunk, false, async (rows, offset) => {
      const n = rows.length / D;
      const firstJ = L - offset - n; // minus-strand rows [firstJ, firstJ + n) cover these bases, reversed
      await scratch.read(minus, 0, n * D * 4, firstJ * D * 4);
      const m = new Float32Array(minus.buffer, minus.byteOffset, n * D);
      const avg = new Float32Array(n * D);
      for (let i = 0; i < n; i++) {
        const j = n - 1 - i;
        for (let k = 0; k < D; k++) avg[i * D + k] = 0.5 * (rows[i * D + k] + m[j * D + k]);
      }
      await writeRows(sink, o.format, region, avg, D, true, region.start + offset);
    }, o.onProgress);
  } finally {
    await scratch.close();
    await rm(dir, { recursive: true, force: true });
  }
}

/** Embeds every region in order and writes the rows (and, for npy, the header first). */
export async function embedRegions(model: MambaModel, genome: Genome, regions: readonly Region[], o: EmbedOptions, sink: TextSink): Promise<number> {
  const D = model.dims.D;
  const rowsTotal = embedRowCount(regions, o.pool);
  if (o.format === 'npy') await sink.write(npyHeader([rowsTotal, D]));
  for (const region of regions) {
    if (o.pool !== 'none') {
      await writeRows(sink, o.format, region, await embedPooled(model, genome, region, o), D, false, region.start);
    } else if (o.rcAverage) {
      await embedPerBaseRc(model, genome, region, o, sink);
    } else {
      await runStrand(model, genome, region, o.chunk, false, (rows, offset) => writeRows(sink, o.format, region, rows, D, true, region.start + offset), o.onProgress);
    }
  }
  return rowsTotal;
}
