// cross-entropy — standalone CPU benchmark: forward (NLL, totals, accuracy) and backward (dLogits)
// over the padded vocabulary V = 16 at L = 4096 and L = 65,536 positions. Reports ns per position.
// Run: node dist/kernels/cross-entropy/bench.js
import { crossEntropy, crossEntropyBackward } from './cpu.js';
import { medianSeconds } from '../bench-util.js';

const median = (fn: () => void, reps = 20): number => medianSeconds(fn, reps);

const V = 16;
for (const L of [4096, 65536]) {
  const logits = new Float32Array(L * V).map(() => 3 * (Math.random() - 0.5));
  const targets = Int32Array.from({ length: L }, () => Math.floor(Math.random() * 4));
  const out = new Float32Array(L * V);
  const tf = median(() => crossEntropy(logits, targets, L, V));
  const tb = median(() => crossEntropyBackward(logits, targets, L, V, undefined, out));
  console.log(`cross-entropy L=${L} V=${V}: forward ${(tf * 1e9 / L).toFixed(1)} ns/position, backward ${(tb * 1e9 / L).toFixed(1)} ns/position`);
}
