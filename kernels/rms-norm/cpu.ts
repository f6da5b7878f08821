// rms-norm — float32 CPU version of RMSNorm and fused residual-add + RMSNorm (forward, backward).
// Same contract and argument order as ref.ts (mamba_ssm rms_norm_ref, prenorm); float32 storage,
// float64 row sums. Not vectorised.
import { RMS_EPS } from './ref.js';

export { RMS_EPS };

function check(name: string, a: Float32Array, n: number): void {
  if (a.length < n) throw new RangeError(`rmsNorm: ${name} has ${a.length} values, expected ${n}`);
}

export function rmsNorm(
  x: Float32Array, w: Float32Array, L: number, D: number, eps = RMS_EPS, out: Float32Array = new Float32Array(L * D),
): Float32Array {
  check('x', x, L * D);
  check('w', w, D);
  for (let t = 0; t < L; t++) {
    const base = t * D;
    let ss = 0;
    for (let i = 0; i < D; i++) ss += x[base + i] * x[base + i];
    const r = 1 / Math.sqrt(ss / D + eps);
    for (let i = 0; i < D; i++) out[base + i] = x[base + i] * r * w[i];
  }
  return out;
}

/** `dXOut` (L, D): optional caller-owned output (reuse it: fresh memory is slow to first touch here). */
export function rmsNormBackward(
  x: Float32Array, w: Float32Array, dY: Float32Array, L: number, D: number, eps = RMS_EPS,
  dXOut?: Float32Array,
): { dX: Float32Array; dW: Float32Array } {
  check('x', x, L * D);
  check('dY', dY, L * D);
  const dX = dXOut ?? new Float32Array(L * D);
  const dW64 = new Float64Array(D); // summed over L: keep float64 until the end
  for (let t = 0; t < L; t++) {
    const base = t * D;
    let ss = 0;
    let gx = 0;
    for (let i = 0; i < D; i++) {
      const xi = x[base + i];
      ss += xi * xi;
      gx += dY[base + i] * w[i] * xi;
    }
    const r = 1 / Math.sqrt(ss / D + eps);
    const c = (r * r * r * gx) / D;
    for (let i = 0; i < D; i++) {
      const xi = x[base + i];
      dX[base + i] = r * dY[base + i] * w[i] - xi * c;
      dW64[i] += dY[base + i] * xi * r;
    }
  }
  return { dX, dW: Float32Array.from(dW64) };
}

/**
 * residual' = x + residual (or x); y = rmsnorm(residual') ⊙ w. `out` holds optional caller-owned
 * outputs; out.residual may be the `residual` input itself (updated in place).
 */
export function addRmsNorm(
  x: Float32Array, residual: Float32Array | null, w: Float32Array, L: number, D: number, eps = RMS_EPS,
  out: { residual?: Float32Array; y?: Float32Array } = {},
): { residual: Float32Array; y: Float32Array } {
  check('x', x, L * D);
  const res = out.residual ?? new Float32Array(L * D); // (L, D)
  if (residual) {
    check('residual', residual, L * D);
    for (let k = 0; k < L * D; k++) res[k] = x[k] + residual[k];
  } else {
    res.set(x.subarray(0, L * D));
  }
  return { residual: res, y: rmsNorm(res, w, L, D, eps, out.y) };
}

export function addRmsNormBackward(
  residualOut: Float32Array, w: Float32Array, dY: Float32Array, dResidualOut: Float32Array | null,
  L: number, D: number, eps = RMS_EPS, dXOut?: Float32Array,
): { dX: Float32Array; dW: Float32Array } {
  const g = rmsNormBackward(residualOut, w, dY, L, D, eps, dXOut);
  if (dResidualOut) for (let k = 0; k < L * D; k++) g.dX[k] += dResidualOut[k];
  return g;
}
