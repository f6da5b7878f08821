// Which bases train and which validate. With a BED of labelled regions (HyenaDNA's split files) the
// labels decide; without one, the last `validFraction` of every sequence is held out, so training
// windows never overlap validation bases. The split used is written to RUN/split.bed.
import { writeFile } from 'node:fs/promises';
import { InputError } from '../errors.js';
import type { Genome, Region } from '../genome/types.js';

export const SPLIT_FILE = 'split.bed';

export interface DataSplit {
  train: Region[];
  valid: Region[];
}

/** Held-out tail of each sequence: valid = [len − ceil(f·len), len), train = the rest. */
export function tailSplit(genome: Genome, validFraction: number): DataSplit {
  if (!(validFraction >= 0 && validFraction < 1)) throw new InputError(`--valid-fraction ${validFraction} must be in [0, 1)`);
  const train: Region[] = [];
  const valid: Region[] = [];
  for (const s of genome.sequences) {
    const hold = Math.ceil(validFraction * s.length);
    if (s.length - hold > 0) train.push({ name: s.name, start: 0, end: s.length - hold, label: 'train' });
    if (hold > 0) valid.push({ name: s.name, start: s.length - hold, end: s.length, label: 'valid' });
  }
  return { train, valid };
}

/** Regions of a BED by label. */
export function labelSplit(regions: readonly Region[], trainLabel: string, validLabel: string, bedPath: string): DataSplit {
  const strip = (r: Region): Region => ({ name: r.name, start: r.start, end: r.end, label: r.label });
  const train = regions.filter((r) => r.label === trainLabel).map(strip);
  const valid = regions.filter((r) => r.label === validLabel).map(strip);
  if (train.length === 0) {
    const labels = [...new Set(regions.map((r) => r.label).filter((l) => l !== undefined))];
    throw new InputError(`${bedPath}: no region labelled '${trainLabel}' to train on (labels present: ${labels.join(', ') || 'none: the file needs a 4th column'}); pick one with --split`);
  }
  return { train, valid };
}

/** The first regions, in order, up to `maxBases` bases (the last one cut short). */
export function capRegions(regions: readonly Region[], maxBases: number): Region[] {
  const out: Region[] = [];
  let left = maxBases;
  for (const r of regions) {
    if (left <= 1) break;
    const n = Math.min(r.end - r.start, left);
    out.push({ ...r, end: r.start + n });
    left -= n;
  }
  return out;
}

export async function writeSplitBed(path: string, split: DataSplit): Promise<void> {
  const lines = ['# mamba-dna pretrain: regions used (0-based half-open); train windows come only from "train" rows'];
  for (const r of [...split.train, ...split.valid]) lines.push(`${r.name}\t${r.start}\t${r.end}\t${r.label ?? ''}`);
  await writeFile(path, `${lines.join('\n')}\n`);
}
