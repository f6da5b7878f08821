// The classification head on a Mamba backbone: pool the final-norm hidden states h (L, D) of a window
// — the last position (what the Mamba paper's Great Apes experiment reads) or the mean over positions —
// then logits = W·pooled + b (W (C, D), b (C)) and softmax cross-entropy against the species label.
// HeadBatchLoss is the HiddenLoss the backbone gradient engine (src/train/grad-cpu.ts) calls: it pools
// chunk by chunk, then hands back ∂loss/∂h, and accumulates the head's own gradients in float64.
import { Rng } from '../data/rng.js';
import type { HiddenLoss } from '../train/grad-cpu.js';

export type Pool = 'last' | 'mean';
export const POOLS: readonly Pool[] = ['last', 'mean'];

export interface ClassifierHead {
  /** species C */
  C: number;
  D: number;
  weight: Float32Array; // (C, D)
  bias: Float32Array; // (C)
}

/** torch.nn.Linear's default initialisation, U(−1/√D, 1/√D) for weight and bias, seeded. */
export function initHead(C: number, D: number, seed: number): ClassifierHead {
  const rng = Rng.derive(seed, 0x6ead);
  const bound = 1 / Math.sqrt(D);
  const u = () => (2 * rng.nextFloat() - 1) * bound;
  return { C, D, weight: Float32Array.from({ length: C * D }, u), bias: Float32Array.from({ length: C }, u) };
}

/** logits (C) = W·x + b, in float64. */
export function headLogits(head: ClassifierHead, x: ArrayLike<number>): Float64Array {
  const { C, D, weight, bias } = head;
  const out = new Float64Array(C);
  for (let c = 0; c < C; c++) {
    let s = bias[c];
    for (let k = 0; k < D; k++) s += weight[c * D + k] * x[k];
    out[c] = s;
  }
  return out;
}

/** Softmax of logits, stable. */
export function softmax(logits: ArrayLike<number>): Float64Array {
  let max = -Infinity;
  for (let i = 0; i < logits.length; i++) max = Math.max(max, logits[i]);
  const p = new Float64Array(logits.length);
  let sum = 0;
  for (let i = 0; i < logits.length; i++) sum += p[i] = Math.exp(logits[i] - max);
  for (let i = 0; i < p.length; i++) p[i] /= sum;
  return p;
}

export function argmax(x: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < x.length; i++) if (x[i] > x[best]) best = i;
  return best;
}

/** Accumulates the pooled feature of one sequence from its hidden rows, chunk by chunk. */
export class Pooler {
  readonly sum: Float64Array;
  rows = 0;
  constructor(readonly D: number, readonly pool: Pool) {
    this.sum = new Float64Array(D);
  }
  reset(): void {
    this.sum.fill(0);
    this.rows = 0;
  }
  add(hidden: ArrayLike<number>, rows: number): void {
    const D = this.D;
    if (rows === 0) return;
    if (this.pool === 'last') {
      for (let k = 0; k < D; k++) this.sum[k] = hidden[(rows - 1) * D + k];
    } else {
      for (let t = 0; t < rows; t++) for (let k = 0; k < D; k++) this.sum[k] += hidden[t * D + k];
    }
    this.rows += rows;
  }
  /** the pooled feature (D) */
  value(): Float64Array {
    if (this.pool === 'last') return Float64Array.from(this.sum);
    return this.sum.map((v) => v / Math.max(1, this.rows));
  }
}

/**
 * Mean cross-entropy over a batch of B windows of L tokens with species labels, as a HiddenLoss for
 * backboneGradientsCpuSync. After the call: `loss`, `correct`, and the head's gradients dWeight/dBias.
 */
export class HeadBatchLoss implements HiddenLoss {
  loss = 0;
  correct = 0;
  readonly dWeight: Float64Array; // (C, D)
  readonly dBias: Float64Array; // (C)
  private readonly pooler: Pooler;
  private readonly dPooled: Float64Array[]; // per sequence, ∂loss/∂pooled (D)

  constructor(readonly head: ClassifierHead, readonly pool: Pool, readonly labels: ArrayLike<number>, readonly L: number) {
    this.dWeight = new Float64Array(head.C * head.D);
    this.dBias = new Float64Array(head.C);
    this.pooler = new Pooler(head.D, pool);
    this.dPooled = Array.from({ length: labels.length }, () => new Float64Array(head.D));
  }

  forward(_b: number, t0: number, hidden: Float32Array, rows: number): void {
    if (t0 === 0) this.pooler.reset();
    this.pooler.add(hidden, rows);
  }

  finish(b: number): void {
    const { C, D, weight } = this.head;
    const B = this.labels.length;
    const x = this.pooler.value();
    const p = softmax(headLogits(this.head, x));
    const y = this.labels[b];
    this.loss += -Math.log(Math.max(p[y], Number.MIN_VALUE)) / B;
    if (argmax(p) === y) this.correct++;
    const dp = this.dPooled[b];
    for (let c = 0; c < C; c++) {
      const dl = (p[c] - (c === y ? 1 : 0)) / B; // ∂(mean CE)/∂logit_c
      this.dBias[c] += dl;
      for (let k = 0; k < D; k++) {
        this.dWeight[c * D + k] += dl * x[k];
        dp[k] += dl * weight[c * D + k];
      }
    }
  }

  backward(b: number, t0: number, rows: number, dHidden: Float32Array): void {
    const D = this.head.D;
    const dp = this.dPooled[b];
    if (this.pool === 'last') {
      const last = this.L - 1 - t0;
      if (last >= 0 && last < rows) for (let k = 0; k < D; k++) dHidden[last * D + k] = dp[k];
    } else {
      for (let t = 0; t < rows; t++) for (let k = 0; k < D; k++) dHidden[t * D + k] = dp[k] / this.L;
    }
  }
}
