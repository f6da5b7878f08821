// lm-head — float64 reference of MambaLMHeadModel's tied LM head: logits = h · Eᵀ.
// Follows mamba_ssm/models/mixer_seq_simple.py: lm_head = nn.Linear(D, V_pad, bias=False) with
// lm_head.weight = backbone.embedding.weight (tie_embeddings). It IS kernels/linear with W = E and no
// bias; this folder names the tie. V_pad = vocab padded to a multiple of pad_vocab_size_multiple (16).
// Contract: h (L, D) (the final RMSNorm's output), E (V, D) → logits (L, V).
// Backward: dH = dLogits E (L, D); dE_head = dLogitsᵀ h (V, D). Because of the tie, the training step
// must ADD dE_head to the embedding's scatter-add gradient (kernels/embedding) — one parameter, two uses.
// Tolerance: TOLERANCE.forward / .backward.
import { linearRef, linearBackwardRef } from '../linear/ref.js';

export function lmHeadRef(h: Float64Array, E: Float64Array, L: number, D: number, V: number): Float64Array {
  return linearRef(h, E, null, L, D, V); // (L, V)
}

export function lmHeadBackwardRef(
  h: Float64Array, E: Float64Array, dLogits: Float64Array, L: number, D: number, V: number,
): { dH: Float64Array; dE: Float64Array } {
  const g = linearBackwardRef(h, E, dLogits, L, D, V, false);
  return { dH: g.dX, dE: g.dW };
}
