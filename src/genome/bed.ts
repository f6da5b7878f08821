// BED intervals (UCSC BED: chrom, chromStart, chromEnd, 0-based half-open, tab-separated, 3+ columns).
// The 4th column is kept as `label`: in HyenaDNA's human-sequences.bed it is the split
// (train / valid / test), which `split` filters on. Comment (#), `track` and `browser` lines and blank
// lines are skipped; anything else that is not an interval is an InputError "file:line: reason".
// Streams the file (plain or gzip) line by line.
import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { createGunzip } from 'node:zlib';
import { InputError } from '../errors.js';
import { checkInputFile, detectCompression } from './source.js';
import type { Genome, Region } from './types.js';

/** A Region read from a BED file, with the line it came from (for error messages). */
export interface BedRegion extends Region {
  line: number;
}

export interface BedOptions {
  /** keep only rows whose 4th column equals this (HyenaDNA: train, valid or test) */
  split?: string;
}

/** Parses one BED data line; throws InputError `path:line: reason`. Returns undefined for skipped lines. */
export function parseBedLine(text: string, path: string, line: number): BedRegion | undefined {
  const t = text.replace(/\r$/, '');
  if (t.trim() === '' || t.startsWith('#') || /^(track|browser)(\s|$)/.test(t)) return undefined;
  const f = t.includes('\t') ? t.split('\t') : t.trim().split(/\s+/);
  const bad = (why: string) => new InputError(`${path}:${line}: ${why}`);
  if (f.length < 3) throw bad(`expected at least 3 columns (chrom, start, end), found ${f.length}`);
  const [name, s, e, label] = f as [string, string, string, string | undefined];
  if (name === '') throw bad('empty chrom column');
  if (!/^\d+$/.test(s)) throw bad(`start '${s}' is not a whole number`);
  if (!/^\d+$/.test(e)) throw bad(`end '${e}' is not a whole number`);
  const start = Number(s);
  const end = Number(e);
  if (!Number.isSafeInteger(end)) throw bad(`end '${e}' is too large`);
  if (end < start) throw bad(`end ${end} is before start ${start} (BED is 0-based half-open: start < end)`);
  return label === undefined ? { name, start, end, line } : { name, start, end, label, line };
}

/** Reads every interval of a BED file (optionally one split). */
export async function readBed(path: string, opts: BedOptions = {}): Promise<BedRegion[]> {
  await checkInputFile(path, 'BED file');
  const raw = createReadStream(path);
  const input = (await detectCompression(path)) === 'none' ? raw : raw.pipe(createGunzip());
  const regions: BedRegion[] = [];
  const labels = new Set<string>();
  let line = 0;
  try {
    for await (const text of createInterface({ input, crlfDelay: Infinity })) {
      line++;
      const r = parseBedLine(text, path, line);
      if (!r) continue;
      if (opts.split !== undefined) {
        if (r.label === undefined) throw new InputError(`${path}:${line}: no 4th column to select split '${opts.split}' by`);
        labels.add(r.label);
        if (r.label !== opts.split) continue;
      }
      regions.push(r);
    }
  } finally {
    raw.destroy();
  }
  if (opts.split !== undefined && regions.length === 0) {
    throw new InputError(`${path}: no intervals in split '${opts.split}' (the file has: ${[...labels].map((l) => `'${l}'`).join(', ') || 'no intervals'})`);
  }
  return regions;
}

/** Checks that every BED interval names a sequence of `genome` and lies inside it. */
export function checkBedRegions(genome: Genome, regions: readonly BedRegion[], bedPath: string): void {
  for (const r of regions) {
    const len = genome.length(r.name);
    if (len === undefined) {
      const names = genome.sequences.slice(0, 5).map((s) => `'${s.name}'`).join(', ');
      throw new InputError(`${bedPath}:${r.line}: sequence '${r.name}' is not in ${genome.path} (sequences: ${names}${genome.sequences.length > 5 ? `, … ${genome.sequences.length} in all` : ''})`);
    }
    if (r.end > len) throw new InputError(`${bedPath}:${r.line}: interval ${r.name} ${r.start} ${r.end} ends past the end of '${r.name}' (${len} bases) in ${genome.path}`);
  }
}
