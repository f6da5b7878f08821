// Single-thread speed of the WebAssembly SIMD kernels vs the TypeScript float32 ones on the default
// model's shapes at L = 4096: every projection of a layer (gemmABt), the selective scan forward, and
// the causal conv + SiLU.
// Both versions run in the same process on the same inputs, alternating, so a machine shared with
// other work slows both alike: read the speedup column, not the absolute times.
// Also times copying a scan's operands into wasm memory and back (the design this avoided).
//
// Run: npx tsc -p tsconfig.json && node dist/bench/cpu-simd-kernels.js [--L 4096] [--repeats 5]   (prints JSON)
import { gemmABt } from '../kernels/linear/cpu.js';
import { selectiveScan } from '../kernels/selective-scan/cpu.js';
import { conv1d } from '../kernels/conv1d/cpu.js';
import { createConv1dSiluWasm } from '../kernels/conv1d/wasm.js';
import { WasmHeap, compileWasmKernel, wasmSimdStatus } from '../kernels/wasm-simd.js';
import { createGemmWasm } from '../kernels/linear/wasm.js';
import { createSelectiveScanWasm } from '../kernels/selective-scan/wasm.js';

const argv = process.argv.slice(2);
const opt = (name: string, dflt: number) => (argv.includes(`--${name}`) ? Number(argv[argv.indexOf(`--${name}`) + 1]) : dflt);
const L = opt('L', 4096), repeats = opt('repeats', 5);
const st = wasmSimdStatus();
if (!st.ok) {
  console.error(`bench: ${st.reason}`);
  process.exit(1);
}
const heap = new WasmHeap();
const gemm = createGemmWasm(compileWasmKernel('gemm'), heap.memory);
const scan = createSelectiveScanWasm(compileWasmKernel('scan'), heap.memory);
const conv = createConv1dSiluWasm(compileWasmKernel('conv'), heap.memory);

let seed = 1;
function fill(a: Float32Array, scale = 1, shift = 0): Float32Array {
  for (let i = 0; i < a.length; i++) {
    seed = (Math.imul(seed ^ (seed >>> 15), 0x2c1b3c6d) + 0x297a2d39) >>> 0;
    a[i] = shift + scale * (seed / 4294967296 - 0.5);
  }
  return a;
}
const median = (xs: number[]) => xs.slice().sort((a, b) => a - b)[xs.length >> 1];

/** Median ms of each function over `repeats` alternating rounds, after one warm-up round. */
function race(fns: Record<string, () => void>): Record<string, number> {
  const times: Record<string, number[]> = {};
  for (const k of Object.keys(fns)) { fns[k](); times[k] = []; }
  for (let r = 0; r < repeats; r++) {
    for (const [k, f] of Object.entries(fns)) {
      const t0 = performance.now();
      f();
      times[k].push(performance.now() - t0);
    }
  }
  return Object.fromEntries(Object.entries(times).map(([k, v]) => [k, median(v)]));
}

const results: Record<string, unknown>[] = [];
// (OUT, IN) of the default model's projections: in_proj (two halves of 2·ED), x_proj, dt_proj, out_proj, and the 128→16 one
for (const [OUT, IN] of [[512, 128], [256, 128], [40, 256], [256, 8], [128, 256], [16, 128]] as const) {
  const A = fill(heap.alloc(L * IN)), B = fill(heap.alloc(OUT * IN)), C = heap.alloc(L * OUT);
  const scratch = heap.alloc(gemm.scratchFloats(OUT, IN));
  const Cts = new Float32Array(L * OUT), Ats = A.slice(), Bts = B.slice();
  const ms = race({
    ts: () => gemmABt(Ats, Bts, Cts, L, OUT, IN),
    wasm: () => gemm.gemmABt(A, B, C, L, OUT, IN, null, false, scratch),
  });
  const gflop = (2 * L * OUT * IN) / 1e9;
  results.push({
    op: 'gemmABt', shape: `${L}x${IN} · (${OUT}x${IN})ᵀ`, tsMs: +ms.ts.toFixed(2), wasmMs: +ms.wasm.toFixed(2),
    speedup: +(ms.ts / ms.wasm).toFixed(2), tsGflops: +(gflop / (ms.ts / 1e3)).toFixed(2), wasmGflops: +(gflop / (ms.wasm / 1e3)).toFixed(2),
  });
}

{
  const ED = 256, N = 16;
  const mk = (n: number, scale = 1, shift = 0) => fill(heap.alloc(n), scale, shift);
  const args = {
    L, ED, N, u: mk(L * ED), deltaRaw: mk(L * ED, 2, -2), z: mk(L * ED), A: mk(ED * N, 8, -5), B: mk(L * N), C: mk(L * N),
    D: mk(ED), deltaBias: mk(ED, 1, -3), h0: mk(ED * N),
  };
  const out = heap.alloc(L * ED), hL = heap.alloc(ED * N);
  const ts = { ...args, u: args.u.slice(), deltaRaw: args.deltaRaw.slice(), z: args.z.slice(), B: args.B.slice(), C: args.C.slice() };
  const tsOut = new Float32Array(L * ED), tsH = new Float32Array(ED * N);
  // The copy-in/copy-out design: u, deltaRaw, z, B, C in and out back, per call.
  const plain = [ts.u, ts.deltaRaw, ts.z, ts.B, ts.C];
  const ms = race({
    ts: () => selectiveScan(ts, { out: tsOut, hL: tsH }),
    wasm: () => scan(args, { out, hL }),
    copyInOut: () => {
      args.u.set(plain[0]); args.deltaRaw.set(plain[1]); args.z.set(plain[2]); args.B.set(plain[3]); args.C.set(plain[4]);
      tsOut.set(out);
    },
  });
  results.push({
    op: 'selectiveScan', shape: `L=${L} ED=${ED} N=${N}`, tsMs: +ms.ts.toFixed(2), wasmMs: +ms.wasm.toFixed(2), speedup: +(ms.ts / ms.wasm).toFixed(2),
    nsPerStateWasm: +((ms.wasm * 1e6) / (L * ED * N)).toFixed(3), copyInOutMs: +ms.copyInOut.toFixed(2),
  });
}
{
  const C = 256, K = 4;
  const x = fill(heap.alloc(L * C)), w = fill(heap.alloc(C * K)), b = fill(heap.alloc(C)), st = fill(heap.alloc((K - 1) * C));
  const y = heap.alloc(L * C), so = heap.alloc((K - 1) * C);
  const xs = x.slice(), ys = new Float32Array(L * C), sos = new Float32Array((K - 1) * C);
  const ms = race({
    ts: () => conv1d(xs, w, b, st, L, C, K, { silu: true, y: ys, state: sos }),
    wasm: () => conv(x, w, b, st, L, C, K, { y, stateOut: so }),
  });
  results.push({ op: 'conv1d+silu', shape: `L=${L} C=${C} K=${K}`, tsMs: +ms.ts.toFixed(2), wasmMs: +ms.wasm.toFixed(2), speedup: +(ms.ts / ms.wasm).toFixed(2) });
}
console.log(JSON.stringify({ L, repeats, node: process.version, results }, null, 1));
