// conv1d — gpu.js kernels for the causal depthwise conv with streaming state, forward and backward.
// Same contract as ref.ts: x (L, C), w (C, K), b (C), stateIn (K-1, C) (pass zeros at a sequence
// start: gpu.js kernels cannot take null). One thread per output element; the K taps are a constant
// loop, the sums over L (dW, dB) loop to the constant L. Index arithmetic stays i32 (kernelSettings).
//   forward(x, w, b, stateIn) → y (L, C)  (forwardSilu: SiLU(y), the mixer's next step, fused)
//   stateOut(x, stateIn) → (K-1, C): the last K-1 inputs, next chunk's stateIn
//   backwardX(dY, w, dStateOut) → dX (L, C);  backwardState(dY, w, dStateOut) → dStateIn (K-1, C)
//   backwardW(dY, x, stateIn) → dW (C, K);     backwardB(dY) → dB (C)
// Independent windows of LW rows (a batch laid end to end, zero state at each window start):
//   convFwdWin, convBwdXWin, convBwdWSplitWin (constants L, C, K, LW, TS).
// Requires L ≥ 1, K ≥ 2. Tolerance: TOLERANCE.forward / .backward.
import { kernelSettings, type GpuJsLike, type KernelOptions } from '../gpujs-types.js';

interface This {
  thread: { x: number; y: number };
  constants: { L: number; C: number; K: number };
}

/** y[t, c]; thread (x = c, y = t). */
export function convFwd(this: This, x: number[], w: number[], b: number[], state: number[]): number {
  let s = b[this.thread.x];
  for (let k = 0; k < this.constants.K; k++) {
    if (this.thread.y - this.constants.K + 1 + k >= 0) {
      s += w[this.thread.x * this.constants.K + k] * x[(this.thread.y - this.constants.K + 1 + k) * this.constants.C + this.thread.x];
    } else {
      s += w[this.thread.x * this.constants.K + k] * state[(this.thread.y + k) * this.constants.C + this.thread.x];
    }
  }
  return s;
}

export function convFwdSilu(this: This, x: number[], w: number[], b: number[], state: number[]): number {
  let s = b[this.thread.x];
  for (let k = 0; k < this.constants.K; k++) {
    if (this.thread.y - this.constants.K + 1 + k >= 0) {
      s += w[this.thread.x * this.constants.K + k] * x[(this.thread.y - this.constants.K + 1 + k) * this.constants.C + this.thread.x];
    } else {
      s += w[this.thread.x * this.constants.K + k] * state[(this.thread.y + k) * this.constants.C + this.thread.x];
    }
  }
  return s / (1 + Math.exp(-s));
}

/** stateOut[j, c] = xe[L - (K-1) + j, c]; thread (x = c, y = j). */
export function convStateOut(this: This, x: number[], state: number[]): number {
  if (this.constants.L - this.constants.K + 1 + this.thread.y >= 0) {
    return x[(this.constants.L - this.constants.K + 1 + this.thread.y) * this.constants.C + this.thread.x];
  }
  return state[(this.constants.L + this.thread.y) * this.constants.C + this.thread.x];
}

/** dX[t, c] = Σ_k w[c, k] dY[t + K-1-k, c] + dStateOut[t - L + K-1, c]; thread (x = c, y = t). */
export function convBwdX(this: This, dY: number[], w: number[], dStateOut: number[]): number {
  let s = 0;
  for (let k = 0; k < this.constants.K; k++) {
    if (this.thread.y + this.constants.K - 1 - k < this.constants.L) {
      s += w[this.thread.x * this.constants.K + k] * dY[(this.thread.y + this.constants.K - 1 - k) * this.constants.C + this.thread.x];
    }
  }
  if (this.thread.y - this.constants.L + this.constants.K - 1 >= 0) {
    s += dStateOut[(this.thread.y - this.constants.L + this.constants.K - 1) * this.constants.C + this.thread.x];
  }
  return s;
}

/** dStateIn[j, c] = dxe[j - (K-1), c]; thread (x = c, y = j). */
export function convBwdState(this: This, dY: number[], w: number[], dStateOut: number[]): number {
  let s = 0;
  for (let k = 0; k < this.constants.K; k++) {
    if (this.thread.y - k >= 0 && this.thread.y - k < this.constants.L) {
      s += w[this.thread.x * this.constants.K + k] * dY[(this.thread.y - k) * this.constants.C + this.thread.x];
    }
  }
  if (this.thread.y - this.constants.L >= 0) {
    s += dStateOut[(this.thread.y - this.constants.L) * this.constants.C + this.thread.x];
  }
  return s;
}

// ---- independent windows (a batch laid end to end; the GPU training engine) ----
// The L rows are windows of LW tokens, each starting from a zero state: a tap that would reach before
// its window's first row reads 0, and no gradient flows across a window boundary. Row t's position in
// its window is t mod LW (f32 in gpu.js: exact, t < 2^24, used in comparisons only).

interface WinThis {
  thread: { x: number; y: number; z: number };
  constants: { L: number; C: number; K: number; LW: number; TS: number };
}

/** convFwd over windows of LW rows, zero state at each window start; thread (x = c, y = t). */
export function convFwdWin(this: WinThis, x: number[], w: number[], b: number[]): number {
  let s = b[this.thread.x];
  for (let k = 0; k < this.constants.K; k++) {
    if (this.thread.y % this.constants.LW - this.constants.K + 1 + k >= 0) {
      s += w[this.thread.x * this.constants.K + k] * x[(this.thread.y - this.constants.K + 1 + k) * this.constants.C + this.thread.x];
    }
  }
  return s;
}

/** convBwdX over windows: dX[t, c] = Σ_k w[c, k] dY[t + K-1-k, c] within t's window; thread (x = c, y = t). */
export function convBwdXWin(this: WinThis, dY: number[], w: number[]): number {
  let s = 0;
  for (let k = 0; k < this.constants.K; k++) {
    if (this.thread.y % this.constants.LW + this.constants.K - 1 - k < this.constants.LW) {
      s += w[this.thread.x * this.constants.K + k] * dY[(this.thread.y + this.constants.K - 1 - k) * this.constants.C + this.thread.x];
    }
  }
  return s;
}

/** convBwdWSplit over windows: taps before a window's start read 0; thread (x = k, y = c, z = split). */
export function convBwdWSplitWin(this: WinThis, dY: number[], x: number[]): number {
  let s = 0;
  for (let j = 0; j < this.constants.TS; j++) {
    // the load itself is conditional: a tap before row 0 would be a negative index (a trap in webasm)
    if (this.thread.z * this.constants.TS + j < this.constants.L
      && (this.thread.z * this.constants.TS + j) % this.constants.LW - this.constants.K + 1 + this.thread.x >= 0) {
      s += dY[(this.thread.z * this.constants.TS + j) * this.constants.C + this.thread.y] *
        x[(this.thread.z * this.constants.TS + j - this.constants.K + 1 + this.thread.x) * this.constants.C + this.thread.y];
    }
  }
  return s;
}

/** dW[c, k] = Σ_t dY[t, c] xe[t - K + 1 + k, c]; thread (x = k, y = c). */
export function convBwdW(this: This, dY: number[], x: number[], state: number[]): number {
  let s = 0;
  for (let t = 0; t < this.constants.L; t++) {
    if (t - this.constants.K + 1 + this.thread.x >= 0) {
      s += dY[t * this.constants.C + this.thread.y] * x[(t - this.constants.K + 1 + this.thread.x) * this.constants.C + this.thread.y];
    } else {
      s += dY[t * this.constants.C + this.thread.y] * state[(t + this.thread.x) * this.constants.C + this.thread.y];
    }
  }
  return s;
}

interface SplitThis {
  thread: { x: number; y: number; z: number };
  constants: { L: number; C: number; K: number; TS: number };
}

/** convBwdW over the tokens of split z only (t in [z·TS, (z+1)·TS) ∩ [0, L)); thread (x = k, y = c, z). */
export function convBwdWSplit(this: SplitThis, dY: number[], x: number[], state: number[]): number {
  let s = 0;
  // no data-dependent break (rows past L are read, clamped, and masked out): see linearBwdWSplit
  for (let j = 0; j < this.constants.TS; j++) {
    let v = 0;
    if (this.thread.z * this.constants.TS + j - this.constants.K + 1 + this.thread.x >= 0) {
      v = dY[(this.thread.z * this.constants.TS + j) * this.constants.C + this.thread.y] *
        x[(this.thread.z * this.constants.TS + j - this.constants.K + 1 + this.thread.x) * this.constants.C + this.thread.y];
    } else {
      v = dY[(this.thread.z * this.constants.TS + j) * this.constants.C + this.thread.y] *
        state[(this.thread.z * this.constants.TS + j + this.thread.x) * this.constants.C + this.thread.y];
    }
    if (this.thread.z * this.constants.TS + j < this.constants.L) s += v;
  }
  return s;
}

/** convBwdB over split y: Σ_{t in split} dY[t, c]; thread (x = c, y = split). */
export function convBwdBSplit(this: SplitThis, dY: number[]): number {
  let s = 0;
  for (let j = 0; j < this.constants.TS; j++) {
    const v = dY[(this.thread.y * this.constants.TS + j) * this.constants.C + this.thread.x];
    if (this.thread.y * this.constants.TS + j < this.constants.L) s += v;
  }
  return s;
}

/** dB[c] = Σ_t dY[t, c]; thread x = c. */
export function convBwdB(this: This, dY: number[]): number {
  let s = 0;
  for (let t = 0; t < this.constants.L; t++) s += dY[t * this.constants.C + this.thread.x];
  return s;
}

export function createConv1dKernels(gpu: GpuJsLike, shape: { L: number; C: number; K: number }, opts: KernelOptions = {}) {
  const { L, C, K } = shape;
  if (K < 2 || L < 1) throw new RangeError(`conv1d kernels need K ≥ 2 and L ≥ 1 (got K=${K}, L=${L})`);
  const c = { L, C, K };
  return {
    forward: gpu.createKernel(convFwd, kernelSettings([C, L], c, {}, opts)),
    forwardSilu: gpu.createKernel(convFwdSilu, kernelSettings([C, L], c, {}, opts)),
    stateOut: gpu.createKernel(convStateOut, kernelSettings([C, K - 1], c, {}, opts)),
    backwardX: gpu.createKernel(convBwdX, kernelSettings([C, L], c, {}, opts)),
    backwardState: gpu.createKernel(convBwdState, kernelSettings([C, K - 1], c, {}, opts)),
    backwardW: gpu.createKernel(convBwdW, kernelSettings([K, C], c, {}, opts)),
    backwardB: gpu.createKernel(convBwdB, kernelSettings([C], c, {}, opts)),
  };
}

/**
 * gpu.js source of the conv's dW split partials with all K taps per thread, for full splits (webgpu only;
 * stores through storeAt, kernels/gpujs-types.ts scatterHelpers): thread (x = c, y = split s) walks its
 * TS rows once, keeping the last K − 1 inputs in registers, and stores P[s, c, k] = Σ_t dY[t, c]·xe[t−K+1+k, c]
 * at (s·C + c)·K + k — convBwdWSplit's (S, C, K) layout. Two loads per K multiply-adds, where
 * convBwdWSplit (one tap per thread) has two per one, and no token predicate (L a multiple of TS). The
 * inputs before row 0 come from the carried state (stateIn, (K−1, C)). Constants C, K, TS.
 */
export function convBwdWTapsSource(K: number): string {
  if (!(Number.isInteger(K) && K >= 2 && K <= 16)) throw new RangeError(`convBwdWTapsSource: K = ${K} outside 2 … 16`);
  const c = 'this.constants';
  const t0 = `this.thread.y * ${c}.TS`;
  const d = 'this.thread.x';
  const ws = Array.from({ length: K - 1 }, (_, i) => i), ks = Array.from({ length: K }, (_, k) => k);
  return [
    'function convBwdWTaps(dY, x, state) {',
    // the K − 1 inputs before the split's first row: rows t0 − (K−1) + i, from the state where negative
    ...ws.flatMap((i) => [
      `  let w${i} = 0;`,
      `  if (${t0} - ${K - 1 - i} >= 0) {`,
      `    w${i} = x[(${t0} - ${K - 1 - i}) * ${c}.C + ${d}];`,
      '  } else {',
      `    w${i} = state[(${t0} + ${i}) * ${c}.C + ${d}];`,
      '  }',
    ]),
    ...ks.map((k) => `  let s${k} = 0;`),
    `  for (let j = 0; j < ${c}.TS; j++) {`,
    `    const g = dY[(${t0} + j) * ${c}.C + ${d}];`,
    `    const xt = x[(${t0} + j) * ${c}.C + ${d}];`,
    ...ks.map((k) => `    s${k} += g * ${k < K - 1 ? `w${k}` : 'xt'};`),
    ...ws.map((i) => `    w${i} = ${i < K - 2 ? `w${i + 1}` : 'xt'};`),
    '  }',
    ...ks.map((k) => `  storeAt((this.thread.y * ${c}.C + ${d}) * ${c}.K + ${k}, s${k});`),
    '  return 0;',
    '}',
  ].join('\n');
}
