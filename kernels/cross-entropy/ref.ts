// cross-entropy — float64 reference of next-token cross-entropy over the padded vocabulary.
// Follows torch.nn.functional.cross_entropy(logits, targets, ignore_index=-1, reduction='mean') as
// used to train MambaLMHeadModel: log-softmax over all V_pad logits (padding ids included — the model
// learns to give them no mass), NLL of the target. Not label smoothing.
// Contract: logits (L, V), targets (L) Int32Array, -1 = ignore (e.g. the last position, or N bases).
//   nll[t] = logsumexp(logits[t, :]) − logits[t, targets[t]]  (0 where ignored)
//   lossNats = Σ nll / count (count = targets ≠ -1; 0 when count = 0), lossBits = lossNats / ln 2
//   correct = #{t : argmax_v logits[t, v] = targets[t]} (first maximum on ties)
// Backward of lossNats: dLogits[t, v] = (softmax(logits[t])[v] − [v = targets[t]]) / count (0 if ignored).
// Tolerance: TOLERANCE.forward / .backward.

export interface CrossEntropyResult {
  /** per-position NLL in nats (0 where ignored) */
  nll: Float64Array;
  count: number;
  correct: number;
  lossNats: number;
  lossBits: number;
}

export function checkTargets(targets: ArrayLike<number>, L: number, V: number): void {
  if (targets.length < L) throw new RangeError(`crossEntropy: ${targets.length} targets for ${L} positions`);
  for (let t = 0; t < L; t++) {
    const y = targets[t];
    if (!(Number.isInteger(y) && y >= -1 && y < V)) {
      throw new RangeError(`crossEntropy: target ${y} at position ${t} is outside [0, ${V}) and not -1 (ignore)`);
    }
  }
}

/** Totals from per-position NLL and 0/1 correctness (shared by every version). */
export function summarizeCrossEntropy(nll: ArrayLike<number>, isCorrect: ArrayLike<number>, targets: ArrayLike<number>, L: number): CrossEntropyResult {
  const out = new Float64Array(L);
  let count = 0, correct = 0, sum = 0;
  for (let t = 0; t < L; t++) {
    if (targets[t] < 0) continue;
    out[t] = nll[t];
    sum += nll[t];
    count++;
    if (isCorrect[t] > 0.5) correct++;
  }
  const lossNats = count > 0 ? sum / count : 0;
  return { nll: out, count, correct, lossNats, lossBits: lossNats / Math.LN2 };
}

export function crossEntropyRef(logits: Float64Array, targets: ArrayLike<number>, L: number, V: number): CrossEntropyResult {
  checkTargets(targets, L, V);
  const nll = new Float64Array(L);
  const ok = new Float64Array(L);
  for (let t = 0; t < L; t++) {
    const y = targets[t];
    if (y < 0) continue;
    let m = -Infinity, arg = 0;
    for (let v = 0; v < V; v++) if (logits[t * V + v] > m) { m = logits[t * V + v]; arg = v; }
    let s = 0;
    for (let v = 0; v < V; v++) s += Math.exp(logits[t * V + v] - m);
    nll[t] = m + Math.log(s) - logits[t * V + y];
    ok[t] = arg === y ? 1 : 0;
  }
  return summarizeCrossEntropy(nll, ok, targets, L);
}

export function crossEntropyBackwardRef(logits: Float64Array, targets: ArrayLike<number>, L: number, V: number): Float64Array {
  checkTargets(targets, L, V);
  let count = 0;
  for (let t = 0; t < L; t++) if (targets[t] >= 0) count++;
  const d = new Float64Array(L * V); // (L, V)
  if (count === 0) return d;
  for (let t = 0; t < L; t++) {
    const y = targets[t];
    if (y < 0) continue;
    let m = -Infinity;
    for (let v = 0; v < V; v++) m = Math.max(m, logits[t * V + v]);
    let s = 0;
    for (let v = 0; v < V; v++) s += Math.exp(logits[t * V + v] - m);
    for (let v = 0; v < V; v++) d[t * V + v] = (Math.exp(logits[t * V + v] - m) / s - (v === y ? 1 : 0)) / count;
  }
  return d;
}
