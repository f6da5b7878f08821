// Training windows of L bases drawn from a genome: from a BED split (regions labelled train / valid /
// test, HyenaDNA's split files) or from whole sequences. Plus a sequential tiling for evaluation.
//
// Random sampling is counter-based: window k is drawn with Rng.derive(seed, k), so the k-th window
// depends only on (seed, k, configuration) — not on call timing, prefetching or concurrent next()
// calls — and the sampler state to checkpoint is just {seed, drawn}.
//
// A start position is uniform over every position where a window fits inside one region, so a region
// is chosen proportionally to its usable length (length − L + 1). Regions shorter than L cannot hold a
// window and are skipped (listed in `skipped`); if none is long enough, construction fails.
// A candidate with more than maxNFraction N (after IUPAC codes fold to N) is redrawn, up to maxTries
// times; then an InputError says the regions are mostly N.
import { InputError } from '../errors.js';
import type { Genome, Region } from '../genome/types.js';
import { encode, reverseComplementIds, TOKEN } from '../tokenizer/index.js';
import { Rng } from './rng.js';

export interface SampledWindow {
  /** window k of this sampler (0-based count of next() calls) */
  index: number;
  /** token ids, length L, already reverse-complemented when `reverseComplemented` */
  ids: Uint8Array; // (L)
  /** the window's own coordinates on the forward strand (0-based half-open), label of its source region */
  region: Region;
  reverseComplemented: boolean;
}

export interface SamplerOptions {
  /** L, bases per window */
  windowLength: number;
  /** non-negative safe integer */
  seed: number;
  /** regions to draw from; default every whole sequence of the genome */
  regions?: readonly Region[];
  /** keep only regions whose label (BED 4th column) equals this, e.g. 'train' */
  split?: string;
  /** largest accepted fraction of N in a window, default 0.1 */
  maxNFraction?: number;
  /** candidates drawn per window before giving up, default 64 */
  maxTries?: number;
  /** reverse-complement each window with probability 0.5 (augmentation), default off */
  reverseComplement?: boolean;
}

/** What a checkpoint stores to resume the exact same stream of windows. */
export interface SamplerState {
  kind: 'window-sampler/v1';
  seed: number;
  /** windows handed out so far (the next window is number `drawn`) */
  drawn: number;
  /** hash of L, the N threshold, augmentation and the usable regions: resuming needs the same ones */
  fingerprint: string;
}

export const DEFAULT_MAX_N_FRACTION = 0.1;
export const DEFAULT_MAX_TRIES = 64;

/** `name:start-end`, 1-based inclusive like the CLI, for messages. */
export function formatRegion(r: Region): string {
  return `${r.name}:${(r.start + 1).toLocaleString('en-US')}-${r.end.toLocaleString('en-US')}`;
}

/**
 * The regions to use: the given ones (validated against the genome) or every whole sequence,
 * filtered to `split` when given. Throws InputError for a region outside its sequence, an unknown
 * sequence name, or a split that selects nothing.
 */
export function selectRegions(genome: Genome, regions?: readonly Region[], split?: string): Region[] {
  if (!regions) {
    if (split !== undefined) throw new InputError(`split '${split}' needs a BED file of regions with a 4th column (train/valid/test)`);
    return genome.sequences.map((s) => ({ name: s.name, start: 0, end: s.length }));
  }
  for (const r of regions) {
    const len = genome.length(r.name);
    if (len === undefined) throw new InputError(`region ${formatRegion(r)}: sequence '${r.name}' is not in ${genome.path} (check the name against its .fai)`);
    if (!(Number.isInteger(r.start) && Number.isInteger(r.end) && r.start >= 0 && r.start < r.end && r.end <= len)) {
      throw new InputError(`region ${formatRegion(r)} is empty or lies outside '${r.name}' (length ${len.toLocaleString('en-US')})`);
    }
  }
  if (split === undefined) return [...regions];
  const kept = regions.filter((r) => r.label === split);
  if (kept.length === 0) {
    const labels = [...new Set(regions.map((r) => r.label).filter((l) => l !== undefined))];
    throw new InputError(labels.length
      ? `no region has split '${split}' (labels present: ${labels.join(', ')})`
      : `split '${split}' asked for, but the regions have no 4th (label) column`);
  }
  return kept;
}

/** 32-bit FNV-1a of a string, hex. */
function fnv1a(text: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
  return (h >>> 0).toString(16).padStart(8, '0');
}

function countN(ids: Uint8Array): number {
  let n = 0;
  for (let i = 0; i < ids.length; i++) n += ids[i] === TOKEN.N ? 1 : 0;
  return n;
}

function checkWindowLength(L: number): void {
  if (!Number.isSafeInteger(L) || L < 1) throw new RangeError(`window length ${L} must be a positive integer`);
}

export class WindowSampler {
  readonly windowLength: number;
  readonly seed: number;
  /** regions that can hold a window, in the given order */
  readonly usable: readonly Region[];
  /** regions shorter than L, never drawn from */
  readonly skipped: readonly Region[];
  /** number of distinct window start positions (Σ length − L + 1 over usable regions) */
  readonly totalStarts: number;
  readonly maxNFraction: number;
  readonly maxTries: number;
  readonly augment: boolean;
  readonly fingerprint: string;

  private readonly genome: Genome;
  /** cumulative start counts: region i owns [cum[i], cum[i+1]) */
  private readonly cum: Float64Array;
  private drawn = 0;

  constructor(genome: Genome, options: SamplerOptions) {
    const L = options.windowLength;
    checkWindowLength(L);
    Rng.derive(options.seed); // validates the seed
    this.genome = genome;
    this.windowLength = L;
    this.seed = options.seed;
    this.maxNFraction = options.maxNFraction ?? DEFAULT_MAX_N_FRACTION;
    if (!(this.maxNFraction >= 0 && this.maxNFraction <= 1)) throw new RangeError(`maxNFraction ${this.maxNFraction} must be in [0, 1]`);
    this.maxTries = options.maxTries ?? DEFAULT_MAX_TRIES;
    if (!Number.isSafeInteger(this.maxTries) || this.maxTries < 1) throw new RangeError(`maxTries ${this.maxTries} must be a positive integer`);
    this.augment = options.reverseComplement ?? false;

    const regions = selectRegions(genome, options.regions, options.split);
    this.usable = regions.filter((r) => r.end - r.start >= L);
    this.skipped = regions.filter((r) => r.end - r.start < L);
    if (this.usable.length === 0) {
      const longest = Math.max(...regions.map((r) => r.end - r.start));
      throw new InputError(`no region holds a window of ${L.toLocaleString('en-US')} bases (longest of ${regions.length} is ${longest.toLocaleString('en-US')}); use a shorter window length or longer regions`);
    }
    this.cum = new Float64Array(this.usable.length + 1);
    this.usable.forEach((r, i) => { this.cum[i + 1] = this.cum[i] + (r.end - r.start - L + 1); });
    this.totalStarts = this.cum[this.usable.length];
    if (this.totalStarts > 2 ** 53) throw new RangeError('more than 2^53 window starts');
    this.fingerprint = fnv1a(JSON.stringify([L, this.maxNFraction, this.augment, this.usable.map((r) => [r.name, r.start, r.end])]));
  }

  /** Windows handed out so far. */
  get windowsDrawn(): number {
    return this.drawn;
  }

  state(): SamplerState {
    return { kind: 'window-sampler/v1', seed: this.seed, drawn: this.drawn, fingerprint: this.fingerprint };
  }

  /** Continues from a saved state: the next window is the one the saved sampler would have drawn next. */
  restore(state: SamplerState): void {
    if (!state || state.kind !== 'window-sampler/v1' || !Number.isSafeInteger(state.drawn) || state.drawn < 0) {
      throw new InputError(`sampler state ${JSON.stringify(state)} is not a window-sampler/v1 state; the checkpoint is damaged or from another program`);
    }
    if (state.seed !== this.seed || state.fingerprint !== this.fingerprint) {
      throw new InputError(`the checkpoint's sampler state (seed ${state.seed}, config ${state.fingerprint}) differs from this run's (seed ${this.seed}, config ${this.fingerprint}): resume with the same genome regions, split, window length, N threshold and augmentation, or start a fresh run`);
    }
    this.drawn = state.drawn;
  }

  /** The region owning start number u (binary search in the cumulative counts). */
  private locate(u: number): { region: Region; start: number } {
    let lo = 0;
    let hi = this.usable.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >>> 1;
      if (this.cum[mid] <= u) lo = mid;
      else hi = mid - 1;
    }
    const region = this.usable[lo];
    return { region, start: region.start + (u - this.cum[lo]) };
  }

  /** Window number `drawn`, then advances. Safe to call concurrently: each call claims its number first. */
  next(out?: Uint8Array): Promise<SampledWindow> {
    return this.window(this.drawn++, out);
  }

  /** B windows as one (B, L) id array, row b = windows[b].ids. */
  async nextBatch(batchSize: number): Promise<{ ids: Uint8Array; windows: SampledWindow[] }> {
    const L = this.windowLength;
    const ids = new Uint8Array(batchSize * L); // (B, L)
    const windows = await Promise.all(Array.from({ length: batchSize }, (_, b) => this.next(ids.subarray(b * L, (b + 1) * L))));
    return { ids, windows };
  }

  /** Window number k, independent of every other draw. */
  async window(k: number, out?: Uint8Array): Promise<SampledWindow> {
    const L = this.windowLength;
    const rng = Rng.derive(this.seed, k);
    const ids = out ? out.subarray(0, L) : new Uint8Array(L); // (L)
    if (ids.length < L) throw new RangeError(`output holds ${out!.length} ids, need ${L}`);
    const maxN = Math.floor(this.maxNFraction * L);
    for (let tries = 0; tries < this.maxTries; tries++) {
      const { region, start } = this.locate(rng.nextInt(this.totalStarts));
      const bases = await this.genome.fetch(region.name, start, start + L);
      encode(bases, ids, { name: region.name, offset: start });
      if (countN(ids) > maxN) continue;
      const rc = this.augment && rng.nextBool(0.5);
      if (rc) reverseComplementIds(ids, ids);
      const where: Region = { name: region.name, start, end: start + L };
      if (region.label !== undefined) where.label = region.label;
      return { index: k, ids, region: where, reverseComplemented: rc };
    }
    throw new InputError(`${this.maxTries} random windows of ${L.toLocaleString('en-US')} bases in ${this.genome.path} all had more than ${(this.maxNFraction * 100).toFixed(1)}% N: the regions are mostly N (assembly gaps); use a BED of regions that excludes gaps, or raise the N threshold`);
  }
}

export interface TileOptions {
  windowLength: number;
  /** regions to tile, in order; default every whole sequence */
  regions?: readonly Region[];
  split?: string;
  /** a region's last partial window: 'drop' it (default; every window has length L) or 'keep' it shorter */
  tail?: 'drop' | 'keep';
  /** skip windows with more than this fraction of N; default 1 (keep all) */
  maxNFraction?: number;
}

export interface TiledWindow {
  /** 0-based count of windows yielded */
  index: number;
  ids: Uint8Array; // (L), or shorter for a kept tail
  region: Region;
}

/**
 * Deterministic evaluation windows: for each region in order, the non-overlapping windows
 * [start, start+L), [start+L, start+2L), … that fit inside it. No randomness, no augmentation.
 */
export async function* tileWindows(genome: Genome, options: TileOptions): AsyncGenerator<TiledWindow> {
  const L = options.windowLength;
  checkWindowLength(L);
  const tail = options.tail ?? 'drop';
  const maxNFraction = options.maxNFraction ?? 1;
  const regions = selectRegions(genome, options.regions, options.split);
  let index = 0;
  for (const r of regions) {
    for (let start = r.start; start < r.end; start += L) {
      const end = Math.min(start + L, r.end);
      if (end - start < L && tail === 'drop') break;
      const ids = encode(await genome.fetch(r.name, start, end), undefined, { name: r.name, offset: start });
      if (countN(ids) > Math.floor(maxNFraction * ids.length)) continue;
      const region: Region = { name: r.name, start, end };
      if (r.label !== undefined) region.label = r.label;
      yield { index: index++, ids, region };
    }
  }
}
