// The GPU gradient engine (src/train/grad-gpu.ts) against the float64 reference (grad-ref.ts), on
// whatever WebGPU adapter answers (lavapipe in CI): odd L, several chunks (carried conv/SSM state
// gradients), uneven token splits, tied and untied heads. Skips, saying why, where no adapter answers.
import test from 'ava';
import { probeWebGpu, shutdownGpu } from '../../src/backend/gpu-runtime.js';
import { makeConfig } from '../../src/model/config.js';
import { gradientsRef64, listParams, toFloat64 } from '../../src/train/grad.js';
import { makeGradientsGpu, type GpuGradientFn } from '../../src/train/grad-gpu.js';
import { maxRelErr } from '../helpers/compare.js';
import { randomBatch, randomWeights } from '../helpers/model-weights.js';
import { TOLERANCE } from '../kernels/tolerances.js';

const probe = await probeWebGpu();
const gpuTest = probe.ok ? test.serial : test.skip;
if (!probe.ok) test('grad-gpu: skipped, no WebGPU adapter', (t) => { t.log(`skipped: ${probe.reason}`); t.pass(); });
test.after.always(async () => { await shutdownGpu(); });


const tied = makeConfig({ dModel: 16, nLayer: 2, dState: 4, expand: 2, dConv: 4 });
const untied = makeConfig({ dModel: 6, nLayer: 2, dState: 2, expand: 2, dConv: 3, dtRank: 3, tieEmbeddings: false });
// widths of 64 and more (d_model 64, ED 128): the linears get 32×8 workgroups (src/backend/gpujs/workgroup-size.ts)
const wide = makeConfig({ dModel: 64, nLayer: 1, dState: 4, expand: 2, dConv: 4 });

const cases = [
  { name: 'tied, L 37, B 2, chunk 16, split 5', cfg: tied, L: 37, B: 2, chunk: 16, split: 5 },
  { name: 'untied, dt_rank 3, K 3, L 33, B 1, chunk 2 (< K-1), split 3', cfg: untied, L: 33, B: 1, chunk: 2, split: 3 },
  { name: 'tied, L 257, B 1, one chunk, default split', cfg: tied, L: 257, B: 1 },
  { name: 'd_model 64 (32-wide workgroups), L 45, B 1, chunk 16, split 8 (full splits: register-tile dW)', cfg: wide, L: 45, B: 1, chunk: 16, split: 8 },
  { name: 'd_model 64, L 45, B 1, chunk 16, split 8, linears as 2 × 2 tiles', cfg: wide, L: 45, B: 1, chunk: 16, split: 8, tile: '2x2' as const },
  // chunks of 16 split in 8s take the register-tile dW (in_proj, out_proj); the last chunk of 1 and the odd x_proj do not
  { name: 'tied, L 49, B 1, chunk 16, split 8', cfg: tied, L: 49, B: 1, chunk: 16, split: 8 },
  // B windows run as chunks of independent windows: 5 windows of 16 tokens, 2 per chunk of 32 (then 1)
  { name: 'batched windows: tied, L 16, B 5, chunk 32 (2 windows per chunk), split 5', cfg: tied, L: 16, B: 5, chunk: 32, split: 5 },
  { name: 'batched windows: untied, K 3, L 24, B 3, 3 windows per chunk', cfg: untied, L: 24, B: 3, chunk: 96, split: 11 },
];

let fn: GpuGradientFn | undefined;
test.after.always(async () => { await fn?.dispose(); });

for (const c of cases) {
  gpuTest(`gradientsGpu matches the float64 reference: ${c.name}`, async (t) => {
    const w = randomWeights(c.cfg, 300 + c.L);
    const batch = randomBatch(c.B, c.L, 400 + c.L);
    const r64 = gradientsRef64(c.cfg, toFloat64(w), batch);
    const g = await makeGradientsGpu({ chunk: c.chunk, split: c.split, ...('tile' in c ? { linearTile: c.tile } : {}) });
    try {
      const got = await g(c.cfg, w, batch);
      const want = new Map(listParams(r64.grads));
      let worst = 0;
      const lines: string[] = [];
      for (const [pname, gr] of listParams(got.grads)) {
        const e = maxRelErr(gr, want.get(pname)!);
        worst = Math.max(worst, e);
        lines.push(`${pname} ${e.toExponential(1)}`);
        t.true(e < TOLERANCE.backward, `${pname}: max rel error ${e}`);
      }
      const lossErr = Math.abs(got.loss - r64.loss) / r64.loss;
      t.log(`loss ${got.loss.toFixed(6)} (rel err ${lossErr.toExponential(1)}); worst grad ${worst.toExponential(2)}: ${lines.join(', ')}`);
      t.true(lossErr < TOLERANCE.forward);
      t.is(got.count, c.B * (c.L - 1));
      t.is(got.correct, r64.correct);
      // a second call (recycled buffers from the pool) gives the same bits
      const again = await g(c.cfg, w, batch);
      const second = new Map(listParams(again.grads));
      t.true(again.loss === got.loss && listParams(got.grads).every(([p, a]) => a.every((v, k) => Object.is(v, second.get(p)![k]))), 'repeat call differs');
    } finally {
      await g.dispose();
    }
  });
}
