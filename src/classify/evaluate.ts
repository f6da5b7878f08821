// `classify eval` and `classify predict` as library functions.
// Eval: K windows per species from the test regions, drawn by SpeciesSampler.windowOf(species, k) with
// the given seed — the same seed and data give the same windows, whatever the classifier, so a model
// and the k-mer baseline are scored on identical samples. Which regions are "test" for a genome:
// the run's split.tsv rows when the genome is one the classifier trained on, else the whole genome
// (nothing of it was seen in training: a held-out strain or assembly).
import type { Genome } from '../genome/types.js';
import type { Region } from '../genome/types.js';
import type { TextSink } from '../tokenizer/index.js';
import type { Scorer } from './classifier.js';
import { argmax } from './head.js';
import { classificationReport, type ClassificationReport } from './metrics.js';
import { SpeciesSampler } from './sampler.js';
import type { SourceSplit } from './sources.js';

export interface EvalOptions {
  species: readonly string[];
  seqLen: number;
  samples: number;
  seed: number;
  maxNFraction: number;
  onProgress?: (done: number, total: number) => void;
}

export interface EvalSample {
  species: number;
  predicted: number;
  probability: number;
  fasta: string;
  region: Region;
}

export async function evaluateClassifier(scorer: Scorer, splits: readonly SourceSplit[], genomes: readonly Genome[], o: EvalOptions): Promise<{ report: ClassificationReport; samples: EvalSample[] }> {
  const present = [...new Set(splits.map((s) => o.species.indexOf(s.species)))].sort((a, b) => a - b);
  const sampler = new SpeciesSampler(
    splits.map((s, g) => ({ species: o.species.indexOf(s.species), genome: genomes[g], regions: s.test })),
    o.species.length,
    { windowLength: o.seqLen, seed: o.seed, maxNFraction: o.maxNFraction },
    o.species,
    true,
  );
  const samples: EvalSample[] = [];
  const total = present.length * o.samples;
  for (const c of present) {
    for (let k = 0; k < o.samples; k++) {
      const w = await sampler.windowOf(c, k);
      const p = await scorer.ofIds(w.ids);
      const pred = argmax(p);
      samples.push({ species: c, predicted: pred, probability: p[pred], fasta: w.fasta, region: w.region });
      o.onProgress?.(samples.length, total);
    }
  }
  const report = classificationReport(o.species, samples.map((s) => s.species), samples.map((s) => s.predicted));
  return { report, samples };
}

const fmtP = (x: number) => (x >= 1e-4 ? x.toFixed(4) : x.toExponential(2));

/** TSV: chrom start end species p_<name>… one line per region, written as soon as it is scored. */
export async function predictRegions(scorer: Scorer, genome: Genome, regions: readonly Region[], sink: TextSink, onRegion?: (r: Region) => void): Promise<void> {
  await sink.write(`chrom\tstart\tend\tspecies\t${scorer.species.map((s) => `p_${s}`).join('\t')}\n`);
  for (const r of regions) {
    const p = await scorer.ofRegion(genome, r);
    await sink.write(`${r.name}\t${r.start}\t${r.end}\t${scorer.species[argmax(p)]}\t${Array.from(p, fmtP).join('\t')}\n`);
    onRegion?.(r);
  }
}
