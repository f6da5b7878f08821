// Where each species' bases come from and which of them train and which test.
//   --species NAME=FASTA (repeatable; a name given twice pools several genomes, e.g. strains) or
//   --manifest TSV: `name <tab> path [<tab> split-bed]` per line (# comments, blank lines skipped).
// Splits keep train and test disjoint, per genome, by one of:
//   a BED (manifest 3rd column): 4th column 'train' / 'test';
//   test sequences by name (--test-sequences chr20,chr21,chr22): those whole, the rest train;
//   a held-out fraction (--holdout-fraction f, default 0.1): the last ⌈f·len⌉ bases of every sequence test.
// The split is written to RUN/split.tsv: `species fasta sequence start end split` (0-based half-open).
import { readFile, writeFile } from 'node:fs/promises';
import { dirname, isAbsolute, resolve } from 'node:path';
import { InputError, UsageError } from '../errors.js';
import { checkBedRegions, readBed } from '../genome/bed.js';
import { openGenome, someNames } from '../genome/open.js';
import type { Genome, Region } from '../genome/types.js';
import { labelSplit, tailSplit } from '../train/split.js';

export interface SpeciesSource {
  species: string;
  /** absolute path of the indexed FASTA */
  fasta: string;
  /** BED with train/test labels (absolute) */
  splitBed?: string;
}

export interface SplitRule {
  holdoutFraction: number;
  testSequences?: string[];
}

export interface SourceSplit extends SpeciesSource {
  train: Region[];
  test: Region[];
}

export const SPLIT_TSV = 'split.tsv';

const NAME_RE = /^[A-Za-z0-9_.+-]+$/;

function checkName(name: string, where: string): void {
  if (!NAME_RE.test(name)) throw new UsageError(`${where}: species name '${name}' must be letters, digits and _ . + - only (it becomes a column name)`);
}

/** `NAME=FASTA` arguments. */
export function parseSpeciesArgs(args: readonly string[]): SpeciesSource[] {
  return args.map((a) => {
    const eq = a.indexOf('=');
    if (eq <= 0 || eq === a.length - 1) throw new UsageError(`--species '${a}': expected NAME=FASTA, e.g. --species human=hg38.fa.gz`);
    const species = a.slice(0, eq);
    checkName(species, `--species ${a}`);
    return { species, fasta: resolve(a.slice(eq + 1)) };
  });
}

/** A manifest TSV: name, path, optional split BED; relative paths are relative to the manifest. */
export async function readManifest(path: string): Promise<SpeciesSource[]> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new InputError(`--manifest ${path}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (err as Error).message}`);
  }
  const base = dirname(resolve(path));
  const at = (p: string) => (isAbsolute(p) ? p : resolve(base, p));
  const out: SpeciesSource[] = [];
  text.split('\n').forEach((raw, i) => {
    const line = raw.replace(/\r$/, '');
    if (line.trim() === '' || line.startsWith('#')) return;
    const f = line.split('\t');
    if (f.length < 2 || f.length > 3 || f.some((x) => x.trim() === '')) {
      throw new InputError(`${path}:${i + 1}: expected 'name<TAB>fasta[<TAB>split.bed]', found ${f.length} column(s)`);
    }
    checkName(f[0], `${path}:${i + 1}`);
    out.push(f.length === 3 ? { species: f[0], fasta: at(f[1]), splitBed: at(f[2]) } : { species: f[0], fasta: at(f[1]) });
  });
  if (out.length === 0) throw new InputError(`${path}: no species lines (expected 'name<TAB>fasta[<TAB>split.bed]')`);
  return out;
}

/** Species names in first-seen order: the label order of the classifier. */
export function speciesNames(sources: readonly SpeciesSource[]): string[] {
  return [...new Set(sources.map((s) => s.species))];
}

/** Train and test regions of one genome. */
export async function splitGenome(genome: Genome, source: SpeciesSource, rule: SplitRule): Promise<SourceSplit> {
  if (source.splitBed) {
    const regions = await readBed(source.splitBed);
    checkBedRegions(genome, regions, source.splitBed);
    const s = labelSplit(regions, 'train', 'test', source.splitBed);
    if (s.valid.length === 0) throw new InputError(`${source.splitBed}: no region labelled 'test' (4th column train/test)`);
    return { ...source, train: s.train, test: s.valid.map((r) => ({ ...r, label: 'test' })) };
  }
  if (rule.testSequences && rule.testSequences.length > 0) {
    const wanted = new Set(rule.testSequences);
    for (const n of wanted) {
      if (genome.length(n) === undefined) {
        throw new InputError(`--test-sequences: '${n}' is not in ${genome.path} (sequences: ${someNames(genome.sequences.map((s) => s.name))}); give names every genome has, or a split BED per genome in a --manifest`);
      }
    }
    const train: Region[] = [];
    const test: Region[] = [];
    for (const s of genome.sequences) (wanted.has(s.name) ? test : train).push({ name: s.name, start: 0, end: s.length, label: wanted.has(s.name) ? 'test' : 'train' });
    if (train.length === 0) throw new InputError(`--test-sequences holds out every sequence of ${genome.path}: nothing left to train on`);
    return { ...source, train, test };
  }
  const s = tailSplit(genome, rule.holdoutFraction);
  return { ...source, train: s.train, test: s.valid.map((r) => ({ ...r, label: 'test' })) };
}

/** Opens every source's genome (closing them all if one fails). */
export async function openSources(sources: readonly SpeciesSource[]): Promise<Genome[]> {
  const out: Genome[] = [];
  try {
    for (const s of sources) {
      try {
        out.push(await openGenome(s.fasta));
      } catch (err) {
        if (err instanceof InputError) throw new InputError(`species '${s.species}': ${err.message}`);
        throw err;
      }
    }
    return out;
  } catch (err) {
    await Promise.all(out.map((g) => g.close()));
    throw err;
  }
}

export async function writeSplitTsv(path: string, splits: readonly SourceSplit[]): Promise<void> {
  const lines = ['#species\tfasta\tsequence\tstart\tend\tsplit'];
  for (const s of splits) for (const r of [...s.train, ...s.test]) lines.push(`${s.species}\t${s.fasta}\t${r.name}\t${r.start}\t${r.end}\t${r.label}`);
  await writeFile(path, `${lines.join('\n')}\n`);
}

/** Reads RUN/split.tsv back: the splits of every (species, fasta) in file order. */
export async function readSplitTsv(path: string): Promise<SourceSplit[]> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch {
    throw new InputError(`${path}: missing; the classifier directory was not written by 'mamba-dna classify train'`);
  }
  const byKey = new Map<string, SourceSplit>();
  text.split('\n').forEach((line, i) => {
    if (line === '' || line.startsWith('#')) return;
    const f = line.split('\t');
    const start = Number(f[3]);
    const end = Number(f[4]);
    if (f.length !== 6 || !Number.isSafeInteger(start) || !Number.isSafeInteger(end) || (f[5] !== 'train' && f[5] !== 'test')) {
      throw new InputError(`${path}:${i + 1}: not a split line (species fasta sequence start end train|test)`);
    }
    const key = `${f[0]}\t${f[1]}`;
    let s = byKey.get(key);
    if (!s) byKey.set(key, (s = { species: f[0], fasta: f[1], train: [], test: [] }));
    s[f[5] as 'train' | 'test'].push({ name: f[2], start, end, label: f[5] });
  });
  return [...byKey.values()];
}
