// embedding — float64 reference of nn.Embedding: row ids[t] of E for every token.
// Follows MambaLMHeadModel's backbone.embedding (mamba_ssm/models/mixer_seq_simple.py); E (V, D) is
// tied to the LM head (kernels/lm-head), so training adds both gradients into one dE.
// Not one-hot matmul; ids are token indices (Int32Array or Uint8Array), 0 ≤ id < V, checked.
// Contract: ids (L), E (V, D) → y (L, D). Backward: dE[v, :] = Σ_{t: ids[t] = v} dY[t, :] (scatter-add).
// Tolerance: exact forward (a copy); TOLERANCE.backward for dE.

export function checkIds(ids: ArrayLike<number>, V: number): void {
  for (let t = 0; t < ids.length; t++) {
    const v = ids[t];
    if (!(Number.isInteger(v) && v >= 0 && v < V)) {
      throw new RangeError(`embedding: token id ${v} at position ${t} is outside the vocabulary [0, ${V}); re-tokenize the input or enlarge V`);
    }
  }
}

export function embeddingRef(ids: ArrayLike<number>, E: Float64Array, V: number, D: number): Float64Array {
  checkIds(ids, V);
  const L = ids.length;
  const y = new Float64Array(L * D); // (L, D)
  for (let t = 0; t < L; t++) for (let d = 0; d < D; d++) y[t * D + d] = E[ids[t] * D + d];
  return y;
}

export function embeddingBackwardRef(ids: ArrayLike<number>, dY: Float64Array, V: number, D: number): Float64Array {
  checkIds(ids, V);
  const dE = new Float64Array(V * D); // (V, D)
  for (let t = 0; t < ids.length; t++) for (let d = 0; d < D; d++) dE[ids[t] * D + d] += dY[t * D + d];
  return dE;
}
