// lm-head — float32 CPU tied LM head (logits = h Eᵀ) on kernels/linear's blocked gemm; contract in ref.ts.
// The backward adds its dE into a caller-given array (the embedding's gradient: the weights are tied).
import { gemmABt, linear, transpose } from '../linear/cpu.js';

export function lmHead(h: Float32Array, E: Float32Array, L: number, D: number, V: number, out: Float32Array = new Float32Array(L * V)): Float32Array {
  return linear(h, E, null, L, D, V, out); // (L, V)
}

/** dH (L, D) = dLogits E; dE (V, D) += dLogitsᵀ h (pass the embedding's dE to accumulate the tie). */
export function lmHeadBackward(
  h: Float32Array, E: Float32Array, dLogits: Float32Array, L: number, D: number, V: number, dE: Float32Array = new Float32Array(V * D),
): { dH: Float32Array; dE: Float32Array } {
  const dH = gemmABt(dLogits, transpose(E, V, D), new Float32Array(L * D), L, D, V);
  gemmABt(transpose(dLogits, L, V), transpose(h, L, D), dE, V, D, L, null, true);
  return { dH, dE };
}
