// Labelled windows for species classification. A training window is drawn as the issue and the Mamba
// paper's Great Apes set-up describe: a species uniformly, then one of its sequences with probability
// proportional to its usable length (across all of that species' genomes), then a uniform start;
// windows with more than maxNFraction N are redrawn. Per (species, genome) the drawing is a
// WindowSampler (src/data/sampler.ts), so N filtering, reverse-complement augmentation and
// counter-based determinism are the same as pretraining's: window k depends only on (seed, k, data).
import { Rng } from '../data/rng.js';
import { WindowSampler, type SampledWindow } from '../data/sampler.js';
import { InputError } from '../errors.js';
import type { Genome, Region } from '../genome/types.js';

export interface LabelledSource {
  species: number;
  genome: Genome;
  regions: readonly Region[];
}

export interface LabelledWindow extends SampledWindow {
  species: number;
  /** path of the genome it came from */
  fasta: string;
}

export interface SpeciesSamplerOptions {
  windowLength: number;
  seed: number;
  maxNFraction?: number;
  reverseComplement?: boolean;
}

export interface SpeciesSamplerState {
  kind: 'species-sampler/v1';
  seed: number;
  drawn: number;
  fingerprint: string;
}

export class SpeciesSampler {
  readonly nSpecies: number;
  readonly fingerprint: string;
  private readonly bySpecies: WindowSampler[][];
  private readonly starts: number[][];
  private readonly paths: string[][];
  private drawn = 0;

  /** allowEmpty: species without genomes are allowed (eval on a subset); windowOf refuses them */
  constructor(sources: readonly LabelledSource[], nSpecies: number, readonly options: SpeciesSamplerOptions, speciesNames?: readonly string[], allowEmpty = false) {
    this.nSpecies = nSpecies;
    this.bySpecies = Array.from({ length: nSpecies }, () => []);
    this.paths = Array.from({ length: nSpecies }, () => []);
    sources.forEach((s, g) => {
      try {
        const sampler = new WindowSampler(s.genome, {
          windowLength: options.windowLength, seed: Rng.derive(options.seed, 0x5bec, s.species, g).nextUint32(), regions: s.regions,
          maxNFraction: options.maxNFraction, reverseComplement: options.reverseComplement,
        });
        this.bySpecies[s.species].push(sampler);
        this.paths[s.species].push(s.genome.path);
      } catch (err) {
        if (err instanceof InputError) throw new InputError(`species '${speciesNames?.[s.species] ?? s.species}', ${s.genome.path}: ${err.message}`);
        throw err;
      }
    });
    this.bySpecies.forEach((list, c) => {
      if (list.length === 0 && !allowEmpty) throw new InputError(`species '${speciesNames?.[c] ?? c}' has no genome to draw windows from`);
    });
    this.starts = this.bySpecies.map((list) => list.map((w) => w.totalStarts));
    this.fingerprint = this.bySpecies.map((list) => list.map((w) => w.fingerprint).join('+')).join('|');
  }

  get windowsDrawn(): number {
    return this.drawn;
  }

  state(): SpeciesSamplerState {
    return { kind: 'species-sampler/v1', seed: this.options.seed, drawn: this.drawn, fingerprint: this.fingerprint };
  }

  restore(s: SpeciesSamplerState): void {
    if (!s || s.kind !== 'species-sampler/v1' || !Number.isSafeInteger(s.drawn) || s.drawn < 0) throw new InputError(`sampler state ${JSON.stringify(s)} is not a species-sampler/v1 state; the checkpoint is damaged`);
    if (s.seed !== this.options.seed || s.fingerprint !== this.fingerprint) {
      throw new InputError('the checkpoint\'s window sampler was built on other data (genomes, split, window length or N threshold differ); resume with the run\'s own FASTA files, or start a fresh run');
    }
    this.drawn = s.drawn;
  }

  /** Window k of species c: genome by usable length, then that genome's sampler's window k. */
  async windowOf(c: number, k: number, out?: Uint8Array): Promise<LabelledWindow> {
    const list = this.bySpecies[c];
    if (list.length === 0) throw new RangeError(`species ${c} has no genome to draw windows from`);
    let g = 0;
    if (list.length > 1) {
      const total = this.starts[c].reduce((a, b) => a + b, 0);
      let u = Rng.derive(this.options.seed, 0x6e0e, c, k).nextInt(total);
      while (u >= this.starts[c][g]) u -= this.starts[c][g++];
    }
    const w = await list[g].window(k, out);
    return { ...w, species: c, fasta: this.paths[c][g] };
  }

  /** Training window k: species uniform, then windowOf. */
  window(k: number, out?: Uint8Array): Promise<LabelledWindow> {
    const c = Rng.derive(this.options.seed, 0x5bec1e5, k).nextInt(this.nSpecies);
    return this.windowOf(c, k, out);
  }

  /** B training windows as (B, L) ids and their labels. */
  async nextBatch(B: number): Promise<{ ids: Uint8Array; labels: Int32Array; windows: LabelledWindow[] }> {
    const L = this.options.windowLength;
    const ids = new Uint8Array(B * L); // (B, L)
    const first = this.drawn;
    this.drawn += B;
    const windows = await Promise.all(Array.from({ length: B }, (_, b) => this.window(first + b, ids.subarray(b * L, (b + 1) * L))));
    return { ids, labels: Int32Array.from(windows, (w) => w.species), windows };
  }
}
