// Float64 reference of the backbone's gradient under a caller-supplied loss on the final-norm hidden
// states (a classification head, say) instead of the LM head + cross-entropy: embedding → layers →
// final RMSNorm → loss(h), then the explicit backward of grad-ref.ts's layers. It is the ground truth
// for backboneGradientsCpuSync (grad-cpu.ts) and is checked against central finite differences of its
// own loss (test/train/grad-head.test.ts). Keeps every activation: for tests and tiny models only.
import { embeddingBackwardRef, embeddingRef } from '../../kernels/embedding/ref.js';
import { addRmsNormBackwardRef, addRmsNormRef } from '../../kernels/rms-norm/ref.js';
import type { MambaConfig } from '../model/config.js';
import { dims } from '../model/config.js';
import { checkTrainable } from './grad-check.js';
import { layerBackward, layerForward, type LayerCache } from './grad-ref.js';
import { type MambaWeights64, zerosLike } from './grad-weights.js';
import type { Batch } from './types.js';

/** Loss of sequence b from its final-norm hidden states h (L, D), and ∂loss/∂h (L, D) unless lossOnly. */
export type HiddenLossRef = (b: number, hidden: Float64Array, lossOnly: boolean) => { loss: number; dHidden?: Float64Array };

/** Σ_b loss(b, h_b) and its gradient with respect to every backbone parameter (lm_head: zero). */
export function backboneGradientsRef64(config: MambaConfig, w: MambaWeights64, batch: Batch, loss: HiddenLossRef, lossOnly = false): { loss: number; grads: MambaWeights64 } {
  checkTrainable(config, w, batch);
  const d = dims(config);
  const { D, V } = d;
  const { B, L } = batch;
  const eps = config.normEps;
  const grads = zerosLike(config, (n) => new Float64Array(n));
  let total = 0;
  for (let b = 0; b < B; b++) {
    const ids = batch.ids.subarray(b * L, (b + 1) * L);
    let res = embeddingRef(ids, w.embedding, V, D); // (L, D)
    const caches: LayerCache[] = [];
    for (let i = 0; i < d.nLayer; i++) {
      const { cache, hid } = layerForward(w.layers[i], res, L, d, eps);
      caches.push(cache);
      const next = new Float64Array(L * D); // (L, D)
      for (let k = 0; k < next.length; k++) next[k] = hid[k] + res[k];
      res = next;
    }
    const hf = addRmsNormRef(res, null, w.normF, L, D, eps).y; // (L, D)
    const r = loss(b, hf, lossOnly);
    total += r.loss;
    if (lossOnly) continue;
    if (!r.dHidden || r.dHidden.length !== L * D) throw new RangeError(`hidden loss: dHidden must hold L·D = ${L * D} values`);
    const nf = addRmsNormBackwardRef(res, w.normF, r.dHidden, null, L, D, eps);
    for (let k = 0; k < D; k++) grads.normF[k] += nf.dW[k];
    const g = nf.dX;
    for (let i = d.nLayer - 1; i >= 0; i--) {
      const dRes = layerBackward(w.layers[i], caches[i], g, grads.layers[i], L, d, eps);
      for (let k = 0; k < g.length; k++) g[k] += dRes[k];
    }
    const dE = embeddingBackwardRef(ids, g, V, D);
    for (let k = 0; k < dE.length; k++) grads.embedding[k] += dE[k];
  }
  return { loss: total, grads };
}
