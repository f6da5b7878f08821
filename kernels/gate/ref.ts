// gate — float64 reference of Mamba's output gate: out = y · SiLU(z), elementwise.
// Follows mamba_simple.py (selective_scan_fn(..., z=z) multiplies by F.silu(z)); the scan kernels
// fuse it (kernels/selective-scan) — this standalone form is for models/tests that keep it separate.
// Backward: dY = dOut · SiLU(z);  dZ = dOut · y · σ(z) (1 + z (1 − σ(z))).
// Contract: y, z, dOut same length (flat). Tolerance: TOLERANCE.forward / .backward.

export function gateRef(y: Float64Array, z: Float64Array): Float64Array {
  const out = new Float64Array(y.length);
  for (let i = 0; i < y.length; i++) out[i] = (y[i] * z[i]) / (1 + Math.exp(-z[i]));
  return out;
}

export function gateBackwardRef(y: Float64Array, z: Float64Array, dOut: Float64Array): { dY: Float64Array; dZ: Float64Array } {
  const dY = new Float64Array(y.length);
  const dZ = new Float64Array(y.length);
  for (let i = 0; i < y.length; i++) {
    const s = 1 / (1 + Math.exp(-z[i]));
    dY[i] = dOut[i] * z[i] * s;
    dZ[i] = dOut[i] * y[i] * s * (1 + z[i] * (1 - s));
  }
  return { dY, dZ };
}
