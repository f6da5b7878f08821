// Base composition of a region, read in chunks through Genome.fetch (a 3 Gb genome never in memory).
// GC fraction is over non-N bases: (G+C, either case) / (length − N count); other IUPAC codes (R, Y, S…)
// count in the denominator only. Soft-masked fraction = lowercase letters / length (lowercase n included).
import type { Genome, Region } from './types.js';

export interface RegionStats {
  name: string;
  start: number;
  end: number;
  label?: string;
  length: number;
  nCount: number;
  gcCount: number;
  lowercaseCount: number;
  /** gcCount / (length − nCount); null when every base is N */
  gcFraction: number | null;
  /** lowercaseCount / length; null for an empty region */
  softMaskedFraction: number | null;
}

const N = 1;
const GC = 2;
const LOWER = 4;
const CLASS = new Uint8Array(128);
for (let c = 97; c <= 122; c++) CLASS[c] = LOWER;
for (const ch of 'Nn') CLASS[ch.charCodeAt(0)]! |= N;
for (const ch of 'GCgc') CLASS[ch.charCodeAt(0)]! |= GC;

export interface Counts {
  nCount: number;
  gcCount: number;
  lowercaseCount: number;
}

export function countBases(seq: string, into: Counts = { nCount: 0, gcCount: 0, lowercaseCount: 0 }): Counts {
  let n = 0;
  let gc = 0;
  let lower = 0;
  for (let i = 0; i < seq.length; i++) {
    const k = CLASS[seq.charCodeAt(i) & 127]!;
    n += k & N;
    gc += (k & GC) >> 1;
    lower += (k & LOWER) >> 2;
  }
  into.nCount += n;
  into.gcCount += gc;
  into.lowercaseCount += lower;
  return into;
}

export function finishStats(region: Region, counts: Counts): RegionStats {
  const length = region.end - region.start;
  const nonN = length - counts.nCount;
  const out: RegionStats = {
    name: region.name,
    start: region.start,
    end: region.end,
    length,
    ...counts,
    gcFraction: nonN > 0 ? counts.gcCount / nonN : null,
    softMaskedFraction: length > 0 ? counts.lowercaseCount / length : null,
  };
  if (region.label !== undefined) out.label = region.label;
  return out;
}

/** Counts a region chunk by chunk (`chunk` bases per fetch). */
export async function regionStats(genome: Genome, region: Region, chunk = 1 << 22): Promise<RegionStats> {
  const counts: Counts = { nCount: 0, gcCount: 0, lowercaseCount: 0 };
  for (let s = region.start; s < region.end; s += chunk) {
    countBases(await genome.fetch(region.name, s, Math.min(region.end, s + chunk)), counts);
  }
  return finishStats(region, counts);
}
