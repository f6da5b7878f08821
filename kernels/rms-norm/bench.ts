// rms-norm — standalone CPU benchmark: fused residual-add + RMSNorm forward and backward at the
// model's shape (L = 4096, D = 128). Reports ns per token and GB/s of (L, D) float32 traffic.
// Run: node dist/kernels/rms-norm/bench.js
import { addRmsNorm, addRmsNormBackward } from './cpu.js';
import { medianSeconds } from '../bench-util.js';

const median = (fn: () => void, reps = 30): number => medianSeconds(fn, reps);

const L = 4096;
for (const D of [128, 256]) {
  const x = new Float32Array(L * D).map(() => Math.random() - 0.5);
  const res = new Float32Array(L * D).map(() => Math.random() - 0.5);
  const w = new Float32Array(D).map(() => 1 + 0.1 * Math.random());
  const dY = new Float32Array(L * D).map(() => Math.random() - 0.5);
  // outputs are reused across calls, as the backend does: first-touching fresh memory costs more
  // than the math on this VM (see docs/benchmarks.md)
  const out = { residual: new Float32Array(L * D), y: new Float32Array(L * D) };
  const dX = new Float32Array(L * D);
  const tf = median(() => addRmsNorm(x, res, w, L, D, undefined, out));
  const tb = median(() => addRmsNormBackward(res, w, dY, res, L, D, undefined, dX));
  const tFresh = median(() => addRmsNorm(x, res, w, L, D), 10);
  // forward moves x, residual in and residual', y out; backward residual', dY, dResOut in, dX out
  const gbs = (arrays: number, s: number) => ((arrays * L * D * 4) / s / 1e9).toFixed(2);
  console.log(`addRmsNorm L=${L} D=${D}: forward ${(tf * 1e9 / L).toFixed(0)} ns/token (${gbs(4, tf)} GB/s), ` +
    `backward ${(tb * 1e9 / L).toFixed(0)} ns/token (${gbs(4, tb)} GB/s); ` +
    `forward with freshly allocated outputs ${(tFresh * 1e9 / L).toFixed(0)} ns/token`);
}
