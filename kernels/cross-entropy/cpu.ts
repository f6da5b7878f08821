// cross-entropy — float32-input CPU version of next-token cross-entropy (forward totals, backward
// dLogits); contract in ref.ts. Sums are float64 (losses are reported over millions of tokens).
import { checkTargets, summarizeCrossEntropy, type CrossEntropyResult } from './ref.js';

export function crossEntropy(logits: Float32Array, targets: ArrayLike<number>, L: number, V: number): CrossEntropyResult {
  checkTargets(targets, L, V);
  if (logits.length < L * V) throw new RangeError(`crossEntropy: logits has ${logits.length} values, expected L*V = ${L}*${V}`);
  const nll = new Float64Array(L);
  const ok = new Float64Array(L);
  for (let t = 0; t < L; t++) {
    const y = targets[t];
    if (y < 0) continue;
    const base = t * V;
    let m = logits[base], arg = 0;
    for (let v = 1; v < V; v++) if (logits[base + v] > m) { m = logits[base + v]; arg = v; }
    let s = 0;
    for (let v = 0; v < V; v++) s += Math.exp(logits[base + v] - m);
    nll[t] = m + Math.log(s) - logits[base + y];
    ok[t] = arg === y ? 1 : 0;
  }
  return summarizeCrossEntropy(nll, ok, targets, L);
}

/** dLogits (L, V) of the mean loss; `scale` overrides 1/count (e.g. 1/total when summing over chunks). */
export function crossEntropyBackward(
  logits: Float32Array, targets: ArrayLike<number>, L: number, V: number, scale?: number, out: Float32Array = new Float32Array(L * V),
): Float32Array {
  checkTargets(targets, L, V);
  let count = 0;
  for (let t = 0; t < L; t++) if (targets[t] >= 0) count++;
  const k = scale ?? (count > 0 ? 1 / count : 0);
  for (let t = 0; t < L; t++) {
    const y = targets[t];
    const base = t * V;
    if (y < 0) { out.fill(0, base, base + V); continue; }
    let m = logits[base];
    for (let v = 1; v < V; v++) m = Math.max(m, logits[base + v]);
    let s = 0;
    for (let v = 0; v < V; v++) s += Math.exp(logits[base + v] - m);
    const inv = 1 / s;
    for (let v = 0; v < V; v++) out[base + v] = (Math.exp(logits[base + v] - m) * inv - (v === y ? 1 : 0)) * k;
  }
  return out;
}
