// gate — float32 CPU version of out = y · SiLU(z) and its backward; contract in ref.ts.

export function gate(y: Float32Array, z: Float32Array, out: Float32Array = new Float32Array(y.length)): Float32Array {
  if (z.length < y.length) throw new RangeError(`gate: z has ${z.length} values, y has ${y.length}`);
  for (let i = 0; i < y.length; i++) out[i] = (y[i] * z[i]) / (1 + Math.exp(-z[i]));
  return out;
}

export function gateBackward(
  y: Float32Array, z: Float32Array, dOut: Float32Array, out: { dY?: Float32Array; dZ?: Float32Array } = {},
): { dY: Float32Array; dZ: Float32Array } {
  const dY = out.dY ?? new Float32Array(y.length);
  const dZ = out.dZ ?? new Float32Array(y.length);
  for (let i = 0; i < y.length; i++) {
    const s = 1 / (1 + Math.exp(-z[i]));
    dY[i] = dOut[i] * z[i] * s;
    dZ[i] = dOut[i] * y[i] * s * (1 + z[i] * (1 - s));
  }
  return { dY, dZ };
}
