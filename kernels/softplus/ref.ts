// softplus — float64 reference of the numerically stable softplus used for Mamba's step size:
// Δ = softplus(dt_proj(x)) (mamba_simple.py; selective_scan_ref's delta_softplus, torch F.softplus
// with threshold 20): y = x for x > 20, else log(1 + e^x) computed as max(x, 0) + log1p(e^(−|x|)).
// Backward: dX = dY · σ(x) (for x > 20, 1: the linear branch). Contract: flat x, dY.
// Tolerance: TOLERANCE.forward / .backward.

export const SOFTPLUS_THRESHOLD = 20;

export function softplusRef(x: Float64Array): Float64Array {
  const y = new Float64Array(x.length);
  for (let i = 0; i < x.length; i++) {
    const v = x[i];
    y[i] = v > SOFTPLUS_THRESHOLD ? v : Math.max(v, 0) + Math.log1p(Math.exp(-Math.abs(v)));
  }
  return y;
}

export function softplusBackwardRef(x: Float64Array, dY: Float64Array): Float64Array {
  const dX = new Float64Array(x.length);
  for (let i = 0; i < x.length; i++) dX[i] = x[i] > SOFTPLUS_THRESHOLD ? dY[i] : dY[i] / (1 + Math.exp(-x[i]));
  return dX;
}
