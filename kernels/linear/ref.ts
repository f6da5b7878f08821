// linear — float64 reference of a PyTorch nn.Linear: y = x Wᵀ (+ b).
// Follows torch.nn.functional.linear; in Mamba (mamba_ssm/modules/mamba_simple.py) it is in_proj,
// x_proj, dt_proj (dt_proj's matmul without its bias feeds the scan's deltaRaw) and out_proj, and, with
// W = E, the tied LM head (kernels/lm-head). Not fast: the plain triple loop that defines the result.
//
// Contract (token-major, PyTorch weight layout):
//   x (L, IN) row-major, W (OUT, IN) row-major (element (o, i) at o*IN + i), b (OUT) or null.
//   forward:  y[t, o] = b[o] + Σ_i x[t, i] W[o, i]                          → y (L, OUT)
//   backward: dX = dY W (L, IN);  dW = dYᵀ x (OUT, IN);  db = Σ_t dY[t, :] (OUT)
// Tolerance of float32 versions against this: TOLERANCE.forward / .backward (test/kernels/tolerances.ts).

export function linearRef(
  x: Float64Array, W: Float64Array, b: Float64Array | null, L: number, IN: number, OUT: number,
): Float64Array {
  const y = new Float64Array(L * OUT); // (L, OUT)
  for (let t = 0; t < L; t++) {
    for (let o = 0; o < OUT; o++) {
      let s = b ? b[o] : 0;
      for (let i = 0; i < IN; i++) s += x[t * IN + i] * W[o * IN + i];
      y[t * OUT + o] = s;
    }
  }
  return y;
}

export interface LinearGrads<T> {
  dX: T; // (L, IN)
  dW: T; // (OUT, IN)
  db: T | null; // (OUT), null when the layer has no bias
}

export function linearBackwardRef(
  x: Float64Array, W: Float64Array, dY: Float64Array, L: number, IN: number, OUT: number, hasBias: boolean,
): LinearGrads<Float64Array> {
  const dX = new Float64Array(L * IN);
  const dW = new Float64Array(OUT * IN);
  const db = hasBias ? new Float64Array(OUT) : null;
  for (let t = 0; t < L; t++) {
    for (let o = 0; o < OUT; o++) {
      const g = dY[t * OUT + o];
      if (db) db[o] += g;
      for (let i = 0; i < IN; i++) {
        dX[t * IN + i] += g * W[o * IN + i];
        dW[o * IN + i] += g * x[t * IN + i];
      }
    }
  }
  return { dX, dW, db };
}
