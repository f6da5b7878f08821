// Float64 reference of the Mamba LM's training gradient: a forward that keeps every intermediate it
// needs, then an explicit backward, one forward/backward pair per layer (llm.c style, no autograd),
// composed only from the kernels' float64 *Ref functions. It is the ground truth for the float32
// engines (grad-cpu.ts) and is itself checked against central finite differences of its own loss
// (test/train/grad.test.ts) and against PyTorch autograd (fixtures/golden/training/).
// Not fast and not memory-bounded: it keeps every layer's activations for the whole sequence, and the
// scan's backward holds all L+1 states of one layer, (L+1)·ED·N float64, while it runs.
//
// Forward per sequence (src/model/mamba.ts lists the same steps; shapes: B batch, L tokens, D d_model,
// ED expand·D, N d_state, R dt_rank, K d_conv, V padded vocab):
//   res_0 = E[ids];  per layer i: xn = RMSNorm(res_i); x = xn W_in[0:ED]ᵀ; z = xn W_in[ED:2ED]ᵀ;
//   xc = SiLU(conv(x) + b); [δ_low | B | C] = xc W_xᵀ; δ_raw = δ_low W_dtᵀ;
//   y = scan(xc, δ_raw, A = -exp(A_log), B, C, D, z, dt bias); hid_i = y W_outᵀ; res_{i+1} = hid_i + res_i
//   logits = RMSNorm_f(res_nLayer) Hᵀ (H = E when tied);  loss = mean CE(logits[t], ids[t+1]) over B·(L-1).
// Backward walks the same list in reverse; the residual stream's gradient g flows straight through
// every add, and each layer adds its norm-path gradient to it.
import { conv1dBackwardRef, conv1dRef } from '../../kernels/conv1d/ref.js';
import { crossEntropyBackwardRef, crossEntropyRef } from '../../kernels/cross-entropy/ref.js';
import { embeddingBackwardRef, embeddingRef } from '../../kernels/embedding/ref.js';
import { linearBackwardRef, linearRef } from '../../kernels/linear/ref.js';
import { addRmsNormBackwardRef, addRmsNormRef } from '../../kernels/rms-norm/ref.js';
import { selectiveScanBackwardRef, selectiveScanRef, type SelectiveScanArgs } from '../../kernels/selective-scan/ref.js';
import { siluBackwardRef, siluRef } from '../../kernels/silu/ref.js';
import type { MambaConfig, MambaDims } from '../model/config.js';
import { dims } from '../model/config.js';
import type { Batch, GradientFn } from './types.js';
import { checkTrainable } from './grad-check.js';
import { type LayerParams, type MambaWeights64, toFloat32, toFloat64, zerosLike } from './grad-weights.js';

export type P64 = LayerParams<Float64Array>;

/** What one layer's backward needs from its forward (one sequence). */
export interface LayerCache {
  res: Float64Array; // (L, D) residual stream entering the layer (after the add)
  xn: Float64Array; // (L, D)
  x: Float64Array; // (L, ED) conv input
  z: Float64Array; // (L, ED) gate
  xPre: Float64Array; // (L, ED) conv output before SiLU
  xc: Float64Array; // (L, ED) scan input u
  dtLow: Float64Array; // (L, R)
  Bm: Float64Array; // (L, N)
  Cm: Float64Array; // (L, N)
  scan: SelectiveScanArgs<Float64Array>;
  y: Float64Array; // (L, ED) scan output (gated)
}

function rows(W: Float64Array, r0: number, r1: number, cols: number): Float64Array {
  return W.subarray(r0 * cols, r1 * cols);
}

export function layerForward(p: P64, res: Float64Array, L: number, d: MambaDims, eps: number): { cache: LayerCache; hid: Float64Array } {
  const { D, ED, N, R, K } = d;
  const xn = addRmsNormRef(res, null, p.norm, L, D, eps).y; // (L, D)
  const x = linearRef(xn, rows(p.inProj, 0, ED, D), null, L, D, ED); // (L, ED)
  const z = linearRef(xn, rows(p.inProj, ED, 2 * ED, D), null, L, D, ED); // (L, ED)
  const xPre = conv1dRef(x, p.conv1dWeight, p.conv1dBias, null, L, ED, K).y; // (L, ED)
  const xc = siluRef(xPre);
  const dtLow = linearRef(xc, rows(p.xProj, 0, R, ED), null, L, ED, R); // (L, R)
  const Bm = linearRef(xc, rows(p.xProj, R, R + N, ED), null, L, ED, N); // (L, N)
  const Cm = linearRef(xc, rows(p.xProj, R + N, R + 2 * N, ED), null, L, ED, N); // (L, N)
  const deltaRaw = linearRef(dtLow, p.dtProjWeight, null, L, R, ED); // (L, ED)
  const A = new Float64Array(ED * N);
  for (let i = 0; i < A.length; i++) A[i] = -Math.exp(p.ALog[i]);
  const scan: SelectiveScanArgs<Float64Array> = { L, ED, N, u: xc, deltaRaw, A, B: Bm, C: Cm, D: p.D, z, deltaBias: p.dtProjBias };
  const y = selectiveScanRef(scan).out; // (L, ED)
  const hid = linearRef(y, p.outProj, null, L, ED, D); // (L, D)
  return { cache: { res, xn, x, z, xPre, xc, dtLow, Bm, Cm, scan, y }, hid };
}

/**
 * Backward of one layer given dHid = ∂loss/∂hid (L, D); param grads are ADDED into `gp`.
 * Returns ∂loss/∂res through the norm path only (the caller adds the residual path).
 */
export function layerBackward(p: P64, c: LayerCache, dHid: Float64Array, gp: P64, L: number, d: MambaDims, eps: number): Float64Array {
  const { D, ED, N, R, K } = d;
  const add = (dst: Float64Array, src: Float64Array, off = 0) => { for (let i = 0; i < src.length; i++) dst[off + i] += src[i]; };
  const out = linearBackwardRef(c.y, p.outProj, dHid, L, ED, D, false);
  add(gp.outProj, out.dW);
  const s = selectiveScanBackwardRef(c.scan, out.dX);
  for (let i = 0; i < ED * N; i++) gp.ALog[i] += s.dA[i] * c.scan.A[i]; // A = -exp(A_log): dA_log = dA ⊙ A
  add(gp.D, s.dD);
  add(gp.dtProjBias, s.dDeltaBias);
  const dt = linearBackwardRef(c.dtLow, p.dtProjWeight, s.dDeltaRaw, L, R, ED, false);
  add(gp.dtProjWeight, dt.dW);
  // x_proj rows [0,R) | [R,R+N) | [R+N,R+2N): three slices of one weight, their dX summed with the scan's dU
  const dXc = Float64Array.from(s.dU);
  const parts: Array<[Float64Array, Float64Array, number, number]> = [[c.dtLow, dt.dX, 0, R], [c.Bm, s.dB, R, N], [c.Cm, s.dC, R + N, N]];
  for (const [, dOut, r0, n] of parts) {
    const g = linearBackwardRef(c.xc, rows(p.xProj, r0, r0 + n, ED), dOut, L, ED, n, false);
    add(dXc, g.dX);
    add(gp.xProj, g.dW, r0 * ED);
  }
  const dXPre = siluBackwardRef(c.xPre, dXc);
  const cv = conv1dBackwardRef(c.x, p.conv1dWeight, null, dXPre, null, L, ED, K);
  add(gp.conv1dWeight, cv.dW);
  add(gp.conv1dBias, cv.dB);
  const gx = linearBackwardRef(c.xn, rows(p.inProj, 0, ED, D), cv.dX, L, D, ED, false);
  const gz = linearBackwardRef(c.xn, rows(p.inProj, ED, 2 * ED, D), s.dZ, L, D, ED, false);
  add(gp.inProj, gx.dW);
  add(gp.inProj, gz.dW, ED * D);
  const dXn = gx.dX;
  add(dXn, gz.dX);
  const nb = addRmsNormBackwardRef(c.res, p.norm, dXn, null, L, D, eps);
  add(gp.norm, nb.dW);
  return nb.dX;
}

export interface RefResult {
  loss: number;
  count: number;
  correct: number;
  grads: MambaWeights64;
}

/**
 * Loss (and, unless `lossOnly`, its gradient) of a batch in float64, weights given in float64 (the
 * finite-difference test perturbs them by 1e-6, which float32 storage could not represent).
 */
export function gradientsRef64(config: MambaConfig, w: MambaWeights64, batch: Batch, lossOnly = false): RefResult {
  checkTrainable(config, w, batch);
  const d = dims(config);
  const { D, V } = d;
  const { B, L } = batch;
  const eps = config.normEps;
  const head = config.tieEmbeddings ? w.embedding : w.lmHead!;
  const grads = zerosLike(config, (n) => new Float64Array(n));
  const total = B * (L - 1);
  let nllSum = 0;
  let correct = 0;
  for (let b = 0; b < B; b++) {
    const ids = batch.ids.subarray(b * L, (b + 1) * L);
    const targets = new Int32Array(L); // (L): ids shifted by one; the last position predicts nothing
    for (let t = 0; t < L; t++) targets[t] = t + 1 < L ? ids[t + 1] : -1;
    // forward
    let res = embeddingRef(ids, w.embedding, V, D); // (L, D)
    const caches: LayerCache[] = [];
    for (let i = 0; i < d.nLayer; i++) {
      const { cache, hid } = layerForward(w.layers[i], res, L, d, eps);
      caches.push(cache);
      const next = new Float64Array(L * D); // (L, D) res_{i+1} = hid_i + res_i
      for (let k = 0; k < next.length; k++) next[k] = hid[k] + res[k];
      res = next;
    }
    const hf = addRmsNormRef(res, null, w.normF, L, D, eps).y; // (L, D)
    const logits = linearRef(hf, head, null, L, D, V); // (L, V)
    const ce = crossEntropyRef(logits, targets, L, V);
    for (let t = 0; t < L; t++) nllSum += ce.nll[t];
    correct += ce.correct;
    if (lossOnly) continue;
    // backward: crossEntropyBackwardRef averages over this sequence's L-1 predictions; the batch mean is 1/B of that
    const dLogits = crossEntropyBackwardRef(logits, targets, L, V);
    for (let k = 0; k < dLogits.length; k++) dLogits[k] /= B;
    const hb = linearBackwardRef(hf, head, dLogits, L, D, V, false);
    const dHead = config.tieEmbeddings ? grads.embedding : grads.lmHead!;
    for (let k = 0; k < hb.dW.length; k++) dHead[k] += hb.dW[k];
    const nf = addRmsNormBackwardRef(res, w.normF, hb.dX, null, L, D, eps);
    for (let k = 0; k < D; k++) grads.normF[k] += nf.dW[k];
    const g = nf.dX; // ∂loss/∂res_nLayer, then ∂loss/∂res_i going down
    for (let i = d.nLayer - 1; i >= 0; i--) {
      const dRes = layerBackward(w.layers[i], caches[i], g, grads.layers[i], L, d, eps);
      for (let k = 0; k < g.length; k++) g[k] += dRes[k];
    }
    const dE = embeddingBackwardRef(ids, g, V, D);
    for (let k = 0; k < dE.length; k++) grads.embedding[k] += dE[k];
  }
  return { loss: nllSum / total, count: total, correct, grads };
}

/** The float64 reference as a GradientFn: float32 weights in, float32 gradients out (computed in float64). */
export const gradientsRef: GradientFn = async (config, weights, batch) => {
  const r = gradientsRef64(config, toFloat64(weights), batch);
  return { loss: r.loss, count: r.count, correct: r.correct, grads: toFloat32(r.grads) };
};
