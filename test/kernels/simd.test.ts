// WebAssembly SIMD kernels (kernels/linear/gemm.as, kernels/selective-scan/scan.as, kernels/conv1d/conv.as)
// vs the float64 references (linearRef, selectiveScanRef, conv1dRef + SiLU) on seeded random inputs of odd shapes, with bias /
// accumulate, channel ranges and h0; plus the exp near its clamps. Operands live in a WasmHeap (the
// shared memory the CPU backend uses). Fails, not skips, when the .wasm files were not built: the
// build (`npm run build`, run by `npm ci`) always makes them.
import test from 'ava';
import { WasmHeap, compileWasmKernel, wasmSimdStatus } from '../../kernels/wasm-simd.js';
import { createGemmWasm } from '../../kernels/linear/wasm.js';
import { createSelectiveScanBackwardWasm, createSelectiveScanWasm, scanBackwardScratchFloats } from '../../kernels/selective-scan/wasm.js';
import { selectiveScan as selectiveScanTs } from '../../kernels/selective-scan/cpu.js';
import { createConv1dSiluWasm } from '../../kernels/conv1d/wasm.js';
import { conv1dRef } from '../../kernels/conv1d/ref.js';
import { silu } from '../../kernels/selective-scan/ref.js';
import { gemmScratchFloats } from '../../kernels/linear/wasm.js';
import { linearRef } from '../../kernels/linear/ref.js';
import { type SelectiveScanArgs, type SelectiveScanGrads, selectiveScanBackwardRef, selectiveScanRef } from '../../kernels/selective-scan/ref.js';
import { mulberry32, randn, randu } from '../helpers/random.js';
import { maxRelErr } from '../helpers/compare.js';
import { TOLERANCE } from './tolerances.js';

const status = wasmSimdStatus();
test('WebAssembly SIMD kernels are available (built and supported)', (t) => {
  t.true(status.ok, status.reason);
});

const heap = new WasmHeap();
const ready = status.ok;
const gemm = ready ? createGemmWasm(compileWasmKernel('gemm'), heap.memory) : null;
const scan = ready ? createSelectiveScanWasm(compileWasmKernel('scan'), heap.memory) : null;
const scanBack = ready ? createSelectiveScanBackwardWasm(compileWasmKernel('scan'), heap.memory) : null;
const conv = ready ? createConv1dSiluWasm(compileWasmKernel('conv'), heap.memory) : null;
const wtest = ready ? test : test.skip;

/** A float64 array copied into a fresh heap block (float32). */
function onHeap(a: ArrayLike<number>): Float32Array {
  const v = heap.alloc(a.length);
  for (let i = 0; i < a.length; i++) v[i] = a[i];
  return v;
}

// (M, N, K): odd, 1, the model's shapes (K = 8 dt_proj, N = 40 x_proj), N % 8 and M % 4 leftovers.
const gemmShapes: Array<[number, number, number]> = [
  [1, 1, 1], [1, 33, 5], [3, 5, 129], [7, 9, 1], [257, 129, 33], [4099, 40, 256], [4099, 7, 8], [130, 512, 128],
];
for (const [M, N, K] of gemmShapes) {
  wtest(`wasm gemmABt vs linearRef, M=${M} N=${N} K=${K}, with bias and accumulate`, (t) => {
    const rng = mulberry32(M * 131 + N * 7 + K);
    const a = randn(rng, M * K), b = randn(rng, N * K), bias = randn(rng, N), c0 = randn(rng, M * N);
    const A = onHeap(a), B = onHeap(b), Bias = onHeap(bias), C = onHeap(c0);
    const scratch = heap.alloc(gemm!.scratchFloats(N, K));
    t.is(gemm!.scratchFloats(N, K), gemmScratchFloats(N, K)); // the backend sizes scratch with the JS twin
    const ref = linearRef(a, b, bias, M, K, N);
    // guard floats around C: the kernel must not write outside (M, N)
    const guard = heap.alloc(16).fill(7);
    gemm!.gemmABt(A, B, C, M, N, K, Bias, false, scratch);
    const e1 = maxRelErr(C, ref);
    gemm!.gemmABt(A, B, C, M, N, K, null, true, scratch); // C = (A Bᵀ + bias) + A Bᵀ
    const ref2 = ref.map((v, i) => v + (v - bias[i % N]));
    const e2 = maxRelErr(C, ref2);
    t.log(`max rel err: overwrite+bias ${e1.toExponential(2)}, accumulate ${e2.toExponential(2)}`);
    t.true(e1 < TOLERANCE.forward && e2 < TOLERANCE.forward);
    t.true(guard.every((v) => v === 7));
    for (const v of [A, B, Bias, C, scratch, guard]) heap.free(v);
  });
}

/** Seeded scan inputs in a trained Mamba's ranges (as test/kernels/selective-scan.test.ts), plus
 *  some large |deltaRaw| so that softplus's both branches and tiny δ are exercised. */
function randomArgs(seed: number, L: number, ED: number, N: number, withH0: boolean): SelectiveScanArgs<Float64Array> {
  const rng = mulberry32(seed);
  const deltaRaw = randn(rng, L * ED, 1, -1);
  for (let i = 0; i < deltaRaw.length; i += 17) deltaRaw[i] = (rng() - 0.5) * 60; // [-30, 30]: δ ≈ e^-30 … 30
  return {
    L, ED, N,
    u: randn(rng, L * ED), deltaRaw, z: randn(rng, L * ED, 3),
    A: randu(rng, ED * N, 0, Math.log(16)).map((x) => -Math.exp(x)),
    B: randn(rng, L * N), C: randn(rng, L * N), D: randn(rng, ED), deltaBias: randu(rng, ED, -4, 0),
    h0: withH0 ? randn(rng, ED * N) : null,
  };
}

const scanShapes: Array<[number, number, number]> = [[1, 1, 1], [3, 5, 16], [257, 7, 1], [257, 13, 5], [4099, 9, 16], [4099, 8, 3]];
for (const [L, ED, N] of scanShapes) {
  for (const withH0 of [false, true]) {
    wtest(`wasm selective scan vs selectiveScanRef, L=${L} ED=${ED} N=${N}${withH0 ? ', h0' : ''}, whole and in channel ranges`, (t) => {
      const a = randomArgs(L * 1000 + ED * 10 + N + (withH0 ? 1 : 0), L, ED, N, withH0);
      const ref = selectiveScanRef(a);
      const args: SelectiveScanArgs<Float32Array> = {
        L, ED, N, u: onHeap(a.u), deltaRaw: onHeap(a.deltaRaw), z: onHeap(a.z), A: onHeap(a.A), B: onHeap(a.B),
        C: onHeap(a.C), D: onHeap(a.D), deltaBias: onHeap(a.deltaBias), h0: a.h0 ? onHeap(a.h0) : null,
      };
      const out = heap.alloc(L * ED).fill(NaN);
      const hL = heap.alloc(ED * N).fill(NaN);
      scan!(args, { out, hL });
      const whole = { out: maxRelErr(out, ref.out), hL: maxRelErr(hL, ref.hL) };
      // Channel ranges as the worker threads split them (uneven, not multiples of 4), into fresh buffers.
      out.fill(NaN);
      hL.fill(NaN);
      const cuts = [0, Math.floor(ED / 3), Math.floor(ED / 3) + Math.ceil(ED / 4), ED];
      for (let i = 0; i + 1 < cuts.length; i++) scan!(args, { d0: cuts[i], d1: cuts[i + 1], out, hL });
      const ranged = { out: maxRelErr(out, ref.out), hL: maxRelErr(hL, ref.hL) };
      t.log(`max rel err whole: out ${whole.out.toExponential(2)}, hL ${whole.hL.toExponential(2)}; ranges ${cuts.join('/')}: out ${ranged.out.toExponential(2)}, hL ${ranged.hL.toExponential(2)}`);
      for (const e of [whole.out, whole.hL, ranged.out, ranged.hL]) t.true(e < TOLERANCE.forward);
      for (const v of Object.values(args)) if (v instanceof Float32Array) heap.free(v);
      heap.free(out);
      heap.free(hL);
    });
  }
}

// Backward (chunked recompute from the forward's chunk-start states), whole and split into uneven channel
// ranges accumulating into shared gradients (as threads would), vs the float64 reference backward.
for (const [L, ED, N, chunk] of [[1, 5, 16, 64], [3, 33, 1, 2], [257, 7, 16, 16], [257, 13, 5, 64], [1000, 9, 16, 64], [1000, 8, 3, 37]] as Array<[number, number, number, number]>) {
  wtest(`wasm selective scan backward vs selectiveScanBackwardRef, L=${L} ED=${ED} N=${N} chunk ${chunk}, whole and in channel ranges`, (t) => {
    const a = randomArgs(L * 7 + ED * 3 + N + chunk, L, ED, N, true);
    const rng = mulberry32(L + 11);
    const dOut = randn(rng, L * ED), dhL = randn(rng, ED * N);
    const ref = selectiveScanBackwardRef(a, dOut, dhL);
    const args: SelectiveScanArgs<Float32Array> = {
      L, ED, N, u: onHeap(a.u), deltaRaw: onHeap(a.deltaRaw), z: onHeap(a.z), A: onHeap(a.A), B: onHeap(a.B),
      C: onHeap(a.C), D: onHeap(a.D), deltaBias: onHeap(a.deltaBias), h0: onHeap(a.h0!),
    };
    const boundaries = onHeap(selectiveScanTs(args, { chunk }).boundaries!);
    const dO = onHeap(dOut), dH = onHeap(dhL);
    const grads = (): SelectiveScanGrads<Float32Array> => ({
      dU: heap.alloc(L * ED).fill(NaN), dDeltaRaw: heap.alloc(L * ED).fill(NaN), dZ: heap.alloc(L * ED).fill(NaN),
      dA: heap.alloc(ED * N).fill(NaN), dh0: heap.alloc(ED * N).fill(NaN),
      dB: heap.alloc(L * N).fill(0), dC: heap.alloc(L * N).fill(0), dD: heap.alloc(ED).fill(0), dDeltaBias: heap.alloc(ED).fill(0),
    });
    const whole = grads(), split = grads();
    const scratch = heap.alloc(scanBackwardScratchFloats(chunk, ED, N));
    scanBack!(args, dO, dH, { chunk, boundaries, grads: whole, scratch });
    const cuts = [0, Math.floor(ED / 3), Math.floor(ED / 3) + Math.ceil(ED / 4), ED];
    for (let i = 0; i + 1 < cuts.length; i++) scanBack!(args, dO, dH, { chunk, boundaries, grads: split, scratch, d0: cuts[i], d1: cuts[i + 1] });
    const errs: string[] = [];
    let worst = 0;
    for (const k of Object.keys(ref) as Array<keyof typeof ref>) {
      const e = Math.max(maxRelErr(whole[k], ref[k]), maxRelErr(split[k], ref[k]));
      worst = Math.max(worst, e);
      errs.push(`${k} ${e.toExponential(1)}`);
    }
    t.log(`max rel err (whole, ranges ${cuts.join('/')}): ${errs.join(', ')}`);
    t.true(worst < TOLERANCE.backward);
    for (const v of [...Object.values(args), ...Object.values(whole), ...Object.values(split), boundaries, dO, dH, scratch]) if (v instanceof Float32Array) heap.free(v);
  });
}

wtest('wasm selective scan: h0 may be hL itself (state updated in place), and a range leaves other channels alone', (t) => {
  const [L, ED, N] = [5, 6, 16];
  const a = randomArgs(99, L, ED, N, true);
  const ref = selectiveScanRef(a);
  const args: SelectiveScanArgs<Float32Array> = {
    L, ED, N, u: onHeap(a.u), deltaRaw: onHeap(a.deltaRaw), z: onHeap(a.z), A: onHeap(a.A), B: onHeap(a.B),
    C: onHeap(a.C), D: onHeap(a.D), deltaBias: onHeap(a.deltaBias), h0: null,
  };
  const hL = onHeap(a.h0!);
  const out = heap.alloc(L * ED).fill(-1);
  scan!({ ...args, h0: hL }, { d0: 1, d1: 5, out, hL });
  let untouched = true;
  for (let tk = 0; tk < L; tk++) untouched &&= out[tk * ED] === -1 && out[tk * ED + 5] === -1;
  const outErr = maxRelErr(Array.from(out).filter((_, i) => i % ED >= 1 && i % ED < 5), Array.from(ref.out).filter((_, i) => i % ED >= 1 && i % ED < 5));
  const hErr = maxRelErr(hL.subarray(N, 5 * N), ref.hL.subarray(N, 5 * N));
  t.log(`channels 1..4: out ${outErr.toExponential(2)}, hL ${hErr.toExponential(2)}`);
  t.true(untouched);
  t.true(outErr < TOLERANCE.forward && hErr < TOLERANCE.forward);
  t.deepEqual(Array.from(hL.subarray(0, N)), Array.from(Float32Array.from(a.h0!.subarray(0, N))));
});

wtest('wasm exp through the scan: e^{δA} for δA from 0 to -200 vs Math.exp, within float32 argument rounding', (t) => {
  // L = 1, h0 = 1, B = 0: hL = e^{δA}·1 exactly what the kernel's exp returns, for δ = softplus(30) = 30.
  // Float32 rounds x = δ·A·log2 e relative ~1e-7, so e^x can only be right to ~|x|·1e-7 relative:
  // the bound is 4e-7·(1 + |x|) (≈ 3 ulp at |x| ≤ 1), and absolute 1e-37 where float32 is subnormal.
  const ED = 97, L = 1, N = 1;
  const A = Float64Array.from({ length: ED }, (_, d) => -(d / (ED - 1)) * (200 / 30));
  const ones = new Float64Array(ED).fill(1);
  const args = {
    L, ED, N, u: onHeap(ones), deltaRaw: onHeap(new Float64Array(ED).fill(30)), z: onHeap(ones), A: onHeap(A),
    B: onHeap([0]), C: onHeap([0]), D: onHeap(new Float64Array(ED)), deltaBias: onHeap(new Float64Array(ED)), h0: onHeap(ones),
  };
  const hL = heap.alloc(ED * N);
  scan!(args, { out: heap.alloc(L * ED), hL });
  let rel = 0, abs = 0;
  for (let d = 0; d < ED; d++) {
    const want = Math.exp(30 * Math.fround(A[d]));
    if (want > 1e-37) rel = Math.max(rel, Math.abs(hL[d] - want) / want / (1 + 30 * Math.abs(Math.fround(A[d]))));
    else abs = Math.max(abs, Math.abs(hL[d] - want));
  }
  t.log(`e^{δA}: max rel err / (1 + |δA|) ${rel.toExponential(2)} (values > 1e-37), max abs err below ${abs.toExponential(2)}`);
  t.true(rel < 4e-7 && abs < 1e-37);
});

// conv1d + SiLU: K = 4 (the model's, the fast path) and K = 3, 1 (general path); C not a multiple of 4;
// L shorter than K-1 (state rows carried through); with and without a state; token ranges as threads split.
const convShapes: Array<[number, number, number]> = [[1, 5, 4], [2, 7, 4], [257, 13, 4], [4099, 9, 3], [33, 8, 1], [300, 256, 4]];
for (const [L, C, K] of convShapes) {
  for (const withState of [false, true]) {
    wtest(`wasm conv1d + SiLU vs conv1dRef, L=${L} C=${C} K=${K}${withState ? ', state' : ''}, whole and in token ranges`, (t) => {
      const rng = mulberry32(L * 100 + C * 10 + K + (withState ? 7 : 0));
      const x = randn(rng, L * C), w = randn(rng, C * K, 0.5), b = randn(rng, C), st = withState ? randn(rng, (K - 1) * C) : null;
      const ref = conv1dRef(x, w, b, st, L, C, K);
      const yRef = ref.y.map(silu);
      const X = onHeap(x), W = onHeap(w), Bb = onHeap(b), S = st ? onHeap(st) : null;
      const y = heap.alloc(L * C).fill(NaN);
      const stateOut = heap.alloc((K - 1) * C).fill(NaN);
      conv!(X, W, Bb, S, L, C, K, { y, stateOut });
      const whole = maxRelErr(y, yRef);
      const stErr = K > 1 ? maxRelErr(stateOut, Float32Array.from(ref.state)) : 0; // a copy of float32 inputs: exact
      y.fill(NaN);
      const cuts = [0, Math.min(L, K + 1), Math.min(L, Math.floor(L / 2) + 1), L];
      for (let i = 0; i + 1 < cuts.length; i++) conv!(X, W, Bb, S, L, C, K, { y, t0: cuts[i], t1: cuts[i + 1] });
      const ranged = maxRelErr(y, yRef);
      t.log(`max rel err y ${whole.toExponential(2)}, state ${stErr.toExponential(2)}, y in ranges ${cuts.join('/')} ${ranged.toExponential(2)}`);
      t.true(whole < TOLERANCE.forward && ranged < TOLERANCE.forward && stErr === 0);
      for (const v of [X, W, Bb, y, stateOut]) heap.free(v);
      if (S) heap.free(S);
    });
  }
}
