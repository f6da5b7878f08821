// embedding — float32 CPU version of the row gather and its scatter-add backward; contract in ref.ts.
// The backward accumulates into a caller-given dE when passed (the LM head's tied gradient lands
// in the same array), in float64 per row block to keep long sequences accurate.
import { checkIds } from './ref.js';

export function embedding(
  ids: ArrayLike<number>, E: Float32Array, V: number, D: number, out: Float32Array = new Float32Array(ids.length * D),
): Float32Array {
  checkIds(ids, V);
  if (E.length < V * D) throw new RangeError(`embedding: E has ${E.length} values, expected V*D = ${V}*${D}`);
  for (let t = 0; t < ids.length; t++) out.set(E.subarray(ids[t] * D, ids[t] * D + D), t * D);
  return out;
}

/** dE (V, D) += scatter of dY (L, D) by ids. */
export function embeddingBackward(
  ids: ArrayLike<number>, dY: Float32Array, V: number, D: number, dE: Float32Array = new Float32Array(V * D),
): Float32Array {
  checkIds(ids, V);
  const acc = new Float64Array(V * D);
  for (let t = 0; t < ids.length; t++) {
    const src = t * D, dst = ids[t] * D;
    for (let d = 0; d < D; d++) acc[dst + d] += dY[src + d];
  }
  for (let k = 0; k < V * D; k++) dE[k] += acc[k];
  return dE;
}
