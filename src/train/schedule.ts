// Learning-rate schedule and sequence-length warmup, as pure functions of the optimizer step.
//
// Steps are numbered t = 1, 2, … (t is the step being taken, as torch.optim's `step` counter after
// the update). H is the schedule horizon (`--schedule-steps`, default the run's `--steps`): the schedule
// depends on H only, never on where a particular invocation stops, so a run stopped at step 10 and
// resumed to 20 follows the same curve as a straight run to 20.
//
//   warmup  W = round(warmupFraction · H)
//   t ≤ W:  lr(t) = peak · t / W                                   (linear, first step already > 0)
//   t > W:  p = min(1, (t − W) / (H − W))
//           lr(t) = min + (peak − min) · ½ · (1 + cos(π p)),  min = minLrRatio · peak
// so lr(W) = peak, lr(H) = min, and steps past H stay at min.
//
// Sequence-length warmup (Mamba §4.3 / HyenaDNA): lengths 2^10, 2^11, … up to the final --seq-len;
// each of the n−1 shorter stages lasts floor(seqLenWarmupFraction · H / (n−1)) steps (at least 1),
// the final length runs the rest. Tokens per step stay constant: at length L_k a step takes
// batch·(L/L_k) windows per micro-batch, with the same number of micro-batches.

export interface LrSchedule {
  peak: number;
  /** H */
  horizon: number;
  /** fraction of H spent in linear warmup, [0, 1) */
  warmupFraction: number;
  /** floor of the cosine as a fraction of peak, [0, 1] */
  minLrRatio: number;
}

export function warmupSteps(s: LrSchedule): number {
  return Math.round(s.warmupFraction * s.horizon);
}

/** lr for optimizer step t (1-based). */
export function learningRate(s: LrSchedule, t: number): number {
  const W = warmupSteps(s);
  if (t <= W) return (s.peak * t) / W;
  const min = s.minLrRatio * s.peak;
  const span = s.horizon - W;
  const p = span <= 0 ? 1 : Math.min(1, (t - W) / span);
  return min + (s.peak - min) * 0.5 * (1 + Math.cos(Math.PI * p));
}

export interface SeqLenStage {
  /** 0-based stage number */
  index: number;
  /** window length L_k */
  seqLen: number;
  /** windows per micro-batch at this length */
  batch: number;
  /** first step (1-based, inclusive) */
  firstStep: number;
  /** last step (inclusive); Infinity for the final stage */
  lastStep: number;
}

export const SEQ_LEN_WARMUP_START = 1024;

/**
 * The stages for a run. Without warmup (or when seqLen ≤ 2^10) there is one stage. With warmup the
 * stage lengths are 2^10 · 2^k below seqLen, then seqLen itself (which need not be a power of two).
 * The micro-batch at length L_k is batch · seqLen / L_k rounded down, at least 1.
 */
export function seqLenStages(opts: { seqLen: number; batch: number; horizon: number; warmup: boolean; warmupFraction: number }): SeqLenStage[] {
  const lengths: number[] = [];
  if (opts.warmup) for (let L = SEQ_LEN_WARMUP_START; L < opts.seqLen; L *= 2) lengths.push(L);
  lengths.push(opts.seqLen);
  const n = lengths.length;
  const per = n > 1 ? Math.max(1, Math.floor((opts.warmupFraction * opts.horizon) / (n - 1))) : 0;
  return lengths.map((L, k) => ({
    index: k,
    seqLen: L,
    batch: Math.max(1, Math.floor((opts.batch * opts.seqLen) / L)),
    firstStep: 1 + k * per,
    lastStep: k === n - 1 ? Infinity : (k + 1) * per,
  }));
}

export function stageAt(stages: readonly SeqLenStage[], t: number): SeqLenStage {
  for (const s of stages) if (t <= s.lastStep) return s;
  return stages[stages.length - 1];
}
