// The backbone gradient under a classification-head loss (the path classify train fine-tunes with):
// the float64 reference (src/train/grad-head-ref.ts) against central finite differences of its own
// loss for every parameter, and the float32 chunked CPU engine (backboneGradientsCpuSync with
// HeadBatchLoss) against that reference, for last-position and mean pooling, one chunk and many.
import test from 'ava';
import { argmax, headLogits, HeadBatchLoss, initHead, softmax, type ClassifierHead, type Pool } from '../../src/classify/head.js';
import { makeConfig, type MambaConfig } from '../../src/model/config.js';
import type { MambaWeights } from '../../src/model/weights.js';
import { backboneGradientsCpuSync } from '../../src/train/grad-cpu.js';
import { backboneGradientsRef64, type HiddenLossRef } from '../../src/train/grad-head-ref.js';
import { listParams, toFloat64 } from '../../src/train/grad-weights.js';
import type { Batch } from '../../src/train/types.js';
import { maxRelErr } from '../helpers/compare.js';
import { mulberry32 } from '../helpers/random.js';
import { randomWeights } from '../helpers/model-weights.js';
import { TOLERANCE } from '../kernels/tolerances.js';


function randomBatch(B: number, L: number, seed: number): Batch {
  const rng = mulberry32(seed);
  const ids = new Uint8Array(B * L);
  for (let k = 0; k < ids.length; k++) ids[k] = 7 + Math.floor(rng() * 5);
  return { ids, B, L };
}

/** Mean softmax cross-entropy of the pooled hidden states, in float64, as a HiddenLossRef. */
function headLossRef(head: ClassifierHead, pool: Pool, labels: number[], L: number): HiddenLossRef {
  const { C, D } = head;
  const B = labels.length;
  return (b, h, lossOnly) => {
    const x = new Float64Array(D);
    if (pool === 'last') for (let k = 0; k < D; k++) x[k] = h[(L - 1) * D + k];
    else for (let t = 0; t < L; t++) for (let k = 0; k < D; k++) x[k] += h[t * D + k] / L;
    const p = softmax(headLogits(head, x));
    const loss = -Math.log(p[labels[b]]) / B;
    if (lossOnly) return { loss };
    const dx = new Float64Array(D);
    for (let c = 0; c < C; c++) {
      const dl = (p[c] - (c === labels[b] ? 1 : 0)) / B;
      for (let k = 0; k < D; k++) dx[k] += dl * head.weight[c * D + k];
    }
    const dHidden = new Float64Array(L * D);
    if (pool === 'last') dHidden.set(dx, (L - 1) * D);
    else for (let t = 0; t < L; t++) for (let k = 0; k < D; k++) dHidden[t * D + k] = dx[k] / L;
    return { loss, dHidden };
  };
}

const cfg = makeConfig({ dModel: 8, nLayer: 2, dState: 3, expand: 2, dConv: 4 });

for (const pool of ['last', 'mean'] as const) {
  test(`backboneGradientsRef64 (head loss, pool ${pool}) matches central finite differences for every parameter`, (t) => {
    const w = toFloat64(randomWeights(cfg, 21));
    const batch = randomBatch(2, 7, 22);
    const head = initHead(3, 8, 5);
    for (let i = 0; i < head.weight.length; i++) head.weight[i] *= 4; // a head that makes the backbone matter
    const loss = headLossRef(head, pool, [2, 0], batch.L);
    const r = backboneGradientsRef64(cfg, w, batch, loss);
    const h = 1e-3;
    const lossAt = (p: Float64Array, i: number, v: number) => {
      p[i] = v;
      return backboneGradientsRef64(cfg, w, batch, loss, true).loss;
    };
    const grads = new Map(listParams(r.grads));
    const lines: string[] = [];
    let worst = 0;
    for (const [name, p] of listParams(w)) {
      const g = grads.get(name)!;
      let diff = 0, scale = 0;
      for (let i = 0; i < p.length; i++) {
        const keep = p[i];
        const f1 = lossAt(p, i, keep + h) - lossAt(p, i, keep - h);
        const f2 = lossAt(p, i, keep + 2 * h) - lossAt(p, i, keep - 2 * h);
        p[i] = keep;
        const fd = (8 * f1 - f2) / (12 * h);
        diff = Math.max(diff, Math.abs(g[i] - fd));
        scale = Math.max(scale, Math.abs(fd));
      }
      const rel = diff / Math.max(scale, 1e-8);
      worst = Math.max(worst, rel);
      lines.push(`${name} ${rel.toExponential(1)}`);
      t.true(scale > 1e-7, `${name}: gradient ~0 everywhere (${scale}); the check would prove nothing`);
      t.true(rel < TOLERANCE.finiteDifference, `${name}: max rel error ${rel} (max|fd| ${scale})`);
    }
    t.log(`loss ${r.loss.toFixed(6)}; worst ${worst.toExponential(2)}; ${lines.join(', ')}`);
  });
}

const cpuCases: Array<{ pool: Pool; L: number; B: number; chunk?: number; scanChunk?: number; recomputeLayers?: boolean }> = [
  { pool: 'last', L: 33, B: 3 },
  { pool: 'mean', L: 33, B: 3 },
  { pool: 'last', L: 33, B: 2, chunk: 5, scanChunk: 2 },
  { pool: 'mean', L: 33, B: 2, chunk: 5, scanChunk: 2 },
  { pool: 'mean', L: 101, B: 2, chunk: 16, recomputeLayers: true },
];

for (const c of cpuCases) {
  test(`backboneGradientsCpuSync matches the reference: pool ${c.pool}, L ${c.L}, B ${c.B}, chunk ${c.chunk ?? 'default'}`, (t) => {
    const big = makeConfig({ dModel: 16, nLayer: 2, dState: 4 });
    const w = randomWeights(big, 300 + c.L);
    const batch = randomBatch(c.B, c.L, 400 + c.L);
    const head = initHead(4, 16, 9);
    const labels = Array.from({ length: c.B }, (_, b) => (b * 3 + 1) % 4);
    const ref = backboneGradientsRef64(big, toFloat64(w), batch, headLossRef(head, c.pool, labels, c.L));
    const hl = new HeadBatchLoss(head, c.pool, labels, c.L);
    const got = backboneGradientsCpuSync(big, w, batch, hl, c);
    const want = new Map(listParams(ref.grads));
    let worst = 0;
    for (const [name, g] of listParams(got)) {
      const e = maxRelErr(g, want.get(name)!);
      worst = Math.max(worst, e);
      t.true(e < TOLERANCE.backward, `${name}: max rel error ${e}`);
    }
    // the head's own gradient: dW = Σ_b dlogits ⊗ pooled, checked by finite differences of the ref loss
    const eps = 1e-4;
    let headWorst = 0;
    for (const i of [0, 5, 17, 63]) {
      const keep = head.weight[i];
      head.weight[i] = keep + eps;
      const up = backboneGradientsRef64(big, toFloat64(w), batch, headLossRef(head, c.pool, labels, c.L), true).loss;
      head.weight[i] = keep - eps;
      const down = backboneGradientsRef64(big, toFloat64(w), batch, headLossRef(head, c.pool, labels, c.L), true).loss;
      head.weight[i] = keep;
      const step = Math.fround(keep + eps) - Math.fround(keep - eps); // the weights are float32
      headWorst = Math.max(headWorst, Math.abs((up - down) / step - hl.dWeight[i]));
    }
    const lossErr = Math.abs(hl.loss - ref.loss) / ref.loss;
    t.log(`loss ${hl.loss.toFixed(6)} (rel err ${lossErr.toExponential(1)}); worst backbone grad rel err ${worst.toExponential(2)}; head dW abs err ${headWorst.toExponential(1)}`);
    t.true(lossErr < TOLERANCE.forward);
    t.true(headWorst < 1e-6);
    t.is(hl.correct, labels.filter((y, b) => argmax(headLogitsOf(big, w, batch, b, head, c.pool)) === y).length);
  });
}

/** Reference logits of one window (for the correct count). */
function headLogitsOf(config: MambaConfig, w: MambaWeights, batch: Batch, b: number, head: ClassifierHead, pool: Pool): Float64Array {
  let out: Float64Array | undefined;
  const one: Batch = { ids: batch.ids.subarray(b * batch.L, (b + 1) * batch.L), B: 1, L: batch.L };
  backboneGradientsRef64(config, toFloat64(w), one, (_b, h) => {
    const D = head.D;
    const x = new Float64Array(D);
    if (pool === 'last') for (let k = 0; k < D; k++) x[k] = h[(batch.L - 1) * D + k];
    else for (let t = 0; t < batch.L; t++) for (let k = 0; k < D; k++) x[k] += h[t * D + k] / batch.L;
    out = headLogits(head, x);
    return { loss: 0 };
  }, true);
  return out!;
}
