// residual-add — float64 reference of the residual stream add: out = a + b, elementwise.
// In MambaLMHeadModel the add happens inside the next fused add+norm (mamba_ssm Block with
// fused_add_norm; kernels/rms-norm addRmsNorm*); this standalone form is for models/tests without it.
// Backward: dA = dB = dOut (the add copies its gradient to both inputs).
// Contract: a, b, dOut same length (flat). Tolerance: TOLERANCE.forward.

export function residualAddRef(a: Float64Array, b: Float64Array): Float64Array {
  const out = new Float64Array(a.length);
  for (let i = 0; i < a.length; i++) out[i] = a[i] + b[i];
  return out;
}

export function residualAddBackwardRef(dOut: Float64Array): { dA: Float64Array; dB: Float64Array } {
  return { dA: Float64Array.from(dOut), dB: Float64Array.from(dOut) };
}
