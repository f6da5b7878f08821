// linear — standalone CPU benchmark at the model's shapes (L = 4096 tokens):
// in_proj 128→512, x_proj 256→40, dt_proj 8→256, out_proj 256→128, LM head 128→16.
// Reports GFLOP/s (2·L·IN·OUT flops per product) of the blocked float32 forward, the backward
// (dX + dW, twice the flops), and the naive triple loop for comparison. Single thread.
// Run: node dist/kernels/linear/bench.js [L]
import { linear, linearBackward } from './cpu.js';

function naive(x: Float32Array, W: Float32Array, y: Float32Array, L: number, IN: number, OUT: number): void {
  for (let t = 0; t < L; t++) {
    for (let o = 0; o < OUT; o++) {
      let s = 0;
      for (let i = 0; i < IN; i++) s += x[t * IN + i] * W[o * IN + i];
      y[t * OUT + o] = s;
    }
  }
}

/** Median seconds per call over enough repetitions for ≈0.3 s of work. */
function time(fn: () => void, flops: number): number {
  fn();
  const reps = Math.max(3, Math.min(50, Math.ceil(3e8 / flops)));
  const times: number[] = [];
  for (let r = 0; r < reps; r++) {
    const t0 = performance.now();
    fn();
    times.push((performance.now() - t0) / 1e3);
  }
  times.sort((a, b) => a - b);
  return times[times.length >> 1];
}

const L = Number(globalThis.process?.argv[2] ?? 4096);
const shapes: Array<[string, number, number]> = [
  ['in_proj', 128, 512], ['x_proj', 256, 40], ['dt_proj', 8, 256], ['out_proj', 256, 128], ['lm_head', 128, 16],
];
console.log(`linear cpu, L=${L}, single thread; GFLOP/s (median)`);
console.log('shape            forward  backward(dX+dW)  naive-forward');
for (const [name, IN, OUT] of shapes) {
  const x = new Float32Array(L * IN).map(() => Math.random() - 0.5);
  const W = new Float32Array(OUT * IN).map(() => Math.random() - 0.5);
  const dY = new Float32Array(L * OUT).map(() => Math.random() - 0.5);
  const y = new Float32Array(L * OUT);
  const flops = 2 * L * IN * OUT;
  const tf = time(() => linear(x, W, null, L, IN, OUT, y), flops);
  const buf = { dX: new Float32Array(L * IN), dW: new Float32Array(OUT * IN), dYT: new Float32Array(OUT * L), xT: new Float32Array(IN * L) };
  const tb = time(() => linearBackward(x, W, dY, L, IN, OUT, false, buf), 2 * flops);
  const tn = time(() => naive(x, W, y, L, IN, OUT), flops);
  const g = (f: number, s: number) => (f / s / 1e9).toFixed(2).padStart(7);
  console.log(`${`${name} ${IN}→${OUT}`.padEnd(17)}${g(flops, tf)}  ${g(2 * flops, tb)}          ${g(flops, tn)}`);
}
