// conv1d — float64 reference of Mamba's causal depthwise Conv1d with a streaming state.
// Follows mamba_simple.py: nn.Conv1d(ED, ED, kernel_size=K, groups=ED, padding=K-1, bias=True) applied to
// x (B, ED, L) and truncated to the first L outputs (= causal_conv1d_fn / causal_conv1d_ref without the
// activation); the single-step path is causal_conv1d_update's state shift. Not the SiLU after it
// (kernels/silu, or the `silu` option of the fast versions).
//
// Contract (token-major): x (L, C); w (C, K) — PyTorch's weight (C, 1, K) with the 1 dropped —
// b (C) or null; stateIn (K-1, C): the K-1 inputs before x (null = zeros, a sequence start).
// With xe the concatenation [stateIn; x] indexed from p = -(K-1) to L-1:
//   y[t, c] = b[c] + Σ_k w[c, k] · xe[t - K + 1 + k, c]                 → y (L, C)
//   stateOut[j, c] = xe[L - (K-1) + j, c], j < K-1                        → the last K-1 inputs
// So running chunks in order, each with the previous chunk's stateOut, equals one pass over all of them.
// Backward (dStateOut: the gradient arriving at stateOut, e.g. from the next chunk; null = 0):
//   dxe[p, c] = Σ_k w[c, k] dY[p + K - 1 - k, c] (terms with 0 ≤ index < L) + dStateOut[p - L + K - 1, c]
//   dX = dxe[0..L), dStateIn = dxe[-(K-1)..0);  dW[c, k] = Σ_t dY[t, c] xe[t - K + 1 + k, c];  dB = Σ_t dY
// Tolerance of float32 versions: TOLERANCE.forward / .backward.

function xe(x: ArrayLike<number>, state: ArrayLike<number> | null, p: number, c: number, C: number, K: number): number {
  if (p >= 0) return x[p * C + c];
  return state ? state[(K - 1 + p) * C + c] : 0;
}

export function conv1dRef(
  x: Float64Array, w: Float64Array, b: Float64Array | null, stateIn: Float64Array | null, L: number, C: number, K: number,
): { y: Float64Array; state: Float64Array } {
  const y = new Float64Array(L * C); // (L, C)
  for (let t = 0; t < L; t++) {
    for (let c = 0; c < C; c++) {
      let s = b ? b[c] : 0;
      for (let k = 0; k < K; k++) s += w[c * K + k] * xe(x, stateIn, t - K + 1 + k, c, C, K);
      y[t * C + c] = s;
    }
  }
  const state = new Float64Array((K - 1) * C); // (K-1, C)
  for (let j = 0; j < K - 1; j++) for (let c = 0; c < C; c++) state[j * C + c] = xe(x, stateIn, L - (K - 1) + j, c, C, K);
  return { y, state };
}

export function conv1dBackwardRef(
  x: Float64Array, w: Float64Array, stateIn: Float64Array | null, dY: Float64Array, dStateOut: Float64Array | null,
  L: number, C: number, K: number,
): { dX: Float64Array; dW: Float64Array; dB: Float64Array; dState: Float64Array } {
  const dX = new Float64Array(L * C);
  const dState = new Float64Array((K - 1) * C);
  const dW = new Float64Array(C * K);
  const dB = new Float64Array(C);
  for (let p = -(K - 1); p < L; p++) {
    for (let c = 0; c < C; c++) {
      let s = 0;
      for (let k = 0; k < K; k++) {
        const t = p + K - 1 - k;
        if (t >= 0 && t < L) s += w[c * K + k] * dY[t * C + c];
      }
      const j = p - L + K - 1;
      if (dStateOut && j >= 0) s += dStateOut[j * C + c];
      if (p >= 0) dX[p * C + c] = s;
      else dState[(K - 1 + p) * C + c] = s;
    }
  }
  for (let t = 0; t < L; t++) {
    for (let c = 0; c < C; c++) {
      const g = dY[t * C + c];
      dB[c] += g;
      for (let k = 0; k < K; k++) dW[c * K + k] += g * xe(x, stateIn, t - K + 1 + k, c, C, K);
    }
  }
  return { dX, dW, dB, dState };
}
