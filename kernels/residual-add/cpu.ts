// residual-add — float32 CPU version of out = a + b and its backward; contract in ref.ts.

export function residualAdd(a: Float32Array, b: Float32Array, out: Float32Array = new Float32Array(a.length)): Float32Array {
  if (b.length < a.length) throw new RangeError(`residualAdd: b has ${b.length} values, a has ${a.length}`);
  for (let i = 0; i < a.length; i++) out[i] = a[i] + b[i];
  return out;
}

export function residualAddBackward(dOut: Float32Array): { dA: Float32Array; dB: Float32Array } {
  return { dA: Float32Array.from(dOut), dB: Float32Array.from(dOut) };
}
