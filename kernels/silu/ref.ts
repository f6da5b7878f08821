// silu — float64 reference of SiLU (swish): y = x · σ(x) = x / (1 + e^(−x)), elementwise.
// Follows torch.nn.functional.silu, used in Mamba after the conv (mamba_simple.py, activation "silu")
// and as the gate SiLU(z) (kernels/gate). Backward: dX = dY · σ(x) · (1 + x (1 − σ(x))).
// Contract: x (any shape, flat), dY same length. Tolerance: TOLERANCE.forward / .backward.

export function siluRef(x: Float64Array): Float64Array {
  const y = new Float64Array(x.length);
  for (let i = 0; i < x.length; i++) y[i] = x[i] / (1 + Math.exp(-x[i]));
  return y;
}

export function siluBackwardRef(x: Float64Array, dY: Float64Array): Float64Array {
  const dX = new Float64Array(x.length);
  for (let i = 0; i < x.length; i++) {
    const s = 1 / (1 + Math.exp(-x[i]));
    dX[i] = dY[i] * s * (1 + x[i] * (1 - s));
  }
  return dX;
}
