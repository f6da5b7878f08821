// rms-norm — float64 reference of RMSNorm and of mamba_ssm's fused residual-add + RMSNorm.
// Follows mamba_ssm/ops/triton/layer_norm.py rms_norm_ref (prenorm=True, no bias):
//   residual' = x + residual (residual absent: residual' = x);  y = residual' · rstd · w,
//   rstd = 1 / sqrt(mean(residual'²) + eps) over the last dim (D); eps = 1e-5 as in MambaLMHeadModel.
// Not LayerNorm (no mean subtraction, no bias).
//
// Contract: x, residual (L, D) row-major; w (D). Returns y (L, D) (and residual' (L, D) for the fused form).
// Backward, with r = rstd and g = dY ⊙ w:
//   dX[t, i] = r g_i − x_i r³ (1/D) Σ_j g_j x_j;   dW[i] = Σ_t dY[t, i] x[t, i] r_t
// For the fused form, dResidualIn = dX_in = dX + dResidualOut (the gradient that arrives through the
// residual' output, i.e. from the next layer's residual stream).
// Tolerance of float32 versions: TOLERANCE.forward / .backward.

export const RMS_EPS = 1e-5;

export function rmsNormRef(x: Float64Array, w: Float64Array, L: number, D: number, eps = RMS_EPS): Float64Array {
  const y = new Float64Array(L * D); // (L, D)
  for (let t = 0; t < L; t++) {
    let ss = 0;
    for (let i = 0; i < D; i++) ss += x[t * D + i] * x[t * D + i];
    const r = 1 / Math.sqrt(ss / D + eps);
    for (let i = 0; i < D; i++) y[t * D + i] = x[t * D + i] * r * w[i];
  }
  return y;
}

export function rmsNormBackwardRef(
  x: Float64Array, w: Float64Array, dY: Float64Array, L: number, D: number, eps = RMS_EPS,
): { dX: Float64Array; dW: Float64Array } {
  const dX = new Float64Array(L * D);
  const dW = new Float64Array(D);
  for (let t = 0; t < L; t++) {
    let ss = 0;
    let gx = 0;
    for (let i = 0; i < D; i++) {
      ss += x[t * D + i] * x[t * D + i];
      gx += dY[t * D + i] * w[i] * x[t * D + i];
    }
    const r = 1 / Math.sqrt(ss / D + eps);
    const c = (r * r * r * gx) / D;
    for (let i = 0; i < D; i++) {
      dX[t * D + i] = r * dY[t * D + i] * w[i] - x[t * D + i] * c;
      dW[i] += dY[t * D + i] * x[t * D + i] * r;
    }
  }
  return { dX, dW };
}

/** Fused: residual' = x + residual (or x); y = rmsnorm(residual') ⊙ w. Returns both (mamba_ssm prenorm). */
export function addRmsNormRef(
  x: Float64Array, residual: Float64Array | null, w: Float64Array, L: number, D: number, eps = RMS_EPS,
): { residual: Float64Array; y: Float64Array } {
  const res = new Float64Array(L * D); // (L, D)
  for (let k = 0; k < L * D; k++) res[k] = x[k] + (residual ? residual[k] : 0);
  return { residual: res, y: rmsNormRef(res, w, L, D, eps) };
}

/**
 * Backward of the fused form from the saved residual' (L, D). dResidualOut may be null (the last
 * layer's residual' only feeds the final norm). Returns dX, which is also dResidual (the add copies it).
 */
export function addRmsNormBackwardRef(
  residualOut: Float64Array, w: Float64Array, dY: Float64Array, dResidualOut: Float64Array | null,
  L: number, D: number, eps = RMS_EPS,
): { dX: Float64Array; dW: Float64Array } {
  const g = rmsNormBackwardRef(residualOut, w, dY, L, D, eps);
  if (dResidualOut) for (let k = 0; k < L * D; k++) g.dX[k] += dResidualOut[k];
  return g;
}
