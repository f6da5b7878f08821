// silu — float32 CPU version of SiLU and its backward; same contract as ref.ts.

export function silu(x: Float32Array, out: Float32Array = new Float32Array(x.length)): Float32Array {
  for (let i = 0; i < x.length; i++) out[i] = x[i] / (1 + Math.exp(-x[i]));
  return out;
}

export function siluBackward(x: Float32Array, dY: Float32Array, out: Float32Array = new Float32Array(x.length)): Float32Array {
  for (let i = 0; i < x.length; i++) {
    const s = 1 / (1 + Math.exp(-x[i]));
    out[i] = dY[i] * s * (1 + x[i] * (1 - s));
  }
  return out;
}
