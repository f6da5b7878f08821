// The narrow interface the rest of mamba-dna uses to read genomes. Coordinates are 0-based half-open
// everywhere inside the program; 1-based inclusive `chr:1-100` exists only at the CLI edge.

/** A sequence in the genome's index (.fai). */
export interface SequenceInfo {
  name: string;
  length: number;
}

/** A 0-based half-open interval on a named sequence, optionally with a BED name/split column. */
export interface Region {
  name: string;
  start: number;
  end: number;
  /** 4th BED column when present (HyenaDNA's split files: train / valid / test) */
  label?: string;
}

/** An opened, indexed genome (plain FASTA + .fai, or BGZF + .fai + .gzi). */
export interface Genome {
  /** the FASTA path it was opened from */
  readonly path: string;
  /** sequences in index order */
  readonly sequences: readonly SequenceInfo[];
  /** length of a sequence, or undefined when the name is not in the index */
  length(name: string): number | undefined;
  /**
   * Bases in [start, end) exactly as stored (case kept: lowercase = soft-masked, N kept).
   * Throws InputError for an unknown name or an interval outside the sequence.
   */
  fetch(name: string, start: number, end: number): Promise<string>;
  close(): Promise<void>;
}
