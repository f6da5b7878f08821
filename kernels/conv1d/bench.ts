// conv1d — standalone CPU benchmark: causal depthwise conv (K = 4) + SiLU forward and the conv
// backward at the model's shape (L = 4096, C = ED = 256). Reports ns per token.
// Run: node dist/kernels/conv1d/bench.js
import { conv1d, conv1dBackward } from './cpu.js';
import { medianSeconds } from '../bench-util.js';

const median = (fn: () => void, reps = 20): number => medianSeconds(fn, reps);

const [L, C, K] = [4096, 256, 4];
const x = new Float32Array(L * C).map(() => Math.random() - 0.5);
const w = new Float32Array(C * K).map(() => Math.random() - 0.5);
const b = new Float32Array(C).map(() => Math.random() - 0.5);
const s = new Float32Array((K - 1) * C).map(() => Math.random() - 0.5);
const dY = new Float32Array(L * C).map(() => Math.random() - 0.5);
// outputs reused across calls, as the backend does (fresh memory is slow to first touch on this VM)
const y = new Float32Array(L * C), state = new Float32Array((K - 1) * C), dX = new Float32Array(L * C);
const tf = median(() => conv1d(x, w, b, s, L, C, K, { silu: true, y, state }));
const tb = median(() => conv1dBackward(x, w, s, dY, null, L, C, K, dX));
const gf = (2 * K * L * C) / tf / 1e9;
console.log(`conv1d+silu L=${L} C=${C} K=${K}: forward ${(tf * 1e9 / L).toFixed(0)} ns/token (${gf.toFixed(2)} GFLOP/s), ` +
  `backward ${(tb * 1e9 / L).toFixed(0)} ns/token`);
