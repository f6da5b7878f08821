// The work items the CPU backend splits across threads: a row range of a matrix product or of the
// add + RMSNorm, a channel range of the selective scan, or a token range of the causal conv. The same function runs them on
// the main thread and in workers, with one of two kernel sets: WebAssembly SIMD (kernels/*/wasm.ts,
// tensors inside one shared WebAssembly.Memory) or the TypeScript float32 kernels (the fallback).
import { gemmABt } from '../../../kernels/linear/cpu.js';
import { createGemmWasm } from '../../../kernels/linear/wasm.js';
import { conv1d } from '../../../kernels/conv1d/cpu.js';
import { addRmsNorm } from '../../../kernels/rms-norm/cpu.js';
import { createConv1dSiluWasm } from '../../../kernels/conv1d/wasm.js';
import { selectiveScan } from '../../../kernels/selective-scan/cpu.js';
import type { SelectiveScanArgs } from '../../../kernels/selective-scan/ref.js';
import { createSelectiveScanWasm } from '../../../kernels/selective-scan/wasm.js';

export interface LinearTask {
  kind: 'linear';
  x: Float32Array; // (L, IN)
  W: Float32Array; // (OUT, IN) — already sliced to the rows wanted
  out: Float32Array; // (L, OUT)
  IN: number;
  OUT: number;
  t0: number;
  t1: number;
  /** this thread's scratch for the wasm gemm (null for the TypeScript one) */
  scratch: Float32Array | null;
}

export interface ScanTask extends SelectiveScanArgs<Float32Array> {
  kind: 'scan';
  out: Float32Array; // (L, ED)
  hL: Float32Array; // (ED, N)
  d0: number;
  d1: number;
}

/** Tokens [t0, t1) of conv1d + SiLU: the K-1 rows before t0 come from x itself (or the state at t0 = 0);
 *  the TypeScript kernel needs t0 = 0 or t0 ≥ K-1. */
export interface ConvTask {
  kind: 'conv';
  x: Float32Array; // (L, C)
  w: Float32Array; // (C, K)
  b: Float32Array; // (C)
  state: Float32Array; // (K-1, C), the state before token 0
  y: Float32Array; // (L, C)
  C: number;
  K: number;
  t0: number;
  t1: number;
}

/** Rows [t0, t1) of residual' = x + residual; normed = rmsnorm(residual') ⊙ w. */
export interface NormTask {
  kind: 'norm';
  x: Float32Array; // (L, D)
  residual: Float32Array | null; // (L, D)
  w: Float32Array; // (D)
  resOut: Float32Array; // (L, D)
  normed: Float32Array; // (L, D)
  D: number;
  eps: number;
  t0: number;
  t1: number;
}

export type WorkerTask = LinearTask | ScanTask | ConvTask | NormTask;

/** The kernels the tasks call. */
export interface CpuKernels {
  readonly simd: boolean;
  /** y rows [t0, t1) of SiLU(conv1d): rows before t0 from x itself (or stateIn at the start) */
  conv1dSilu(x: Float32Array, w: Float32Array, b: Float32Array, stateIn: Float32Array, L: number, C: number, K: number, y: Float32Array, t0: number, t1: number): void;
  gemmABt(A: Float32Array, B: Float32Array, C: Float32Array, M: number, N: number, K: number, scratch: Float32Array | null): void;
  selectiveScan(a: SelectiveScanArgs<Float32Array>, o: { d0: number; d1: number; out: Float32Array; hL: Float32Array }): void;
}

export const tsKernels: CpuKernels = {
  simd: false,
  conv1dSilu(x, w, b, stateIn, L, C, K, y, t0, t1) {
    if (t0 > 0 && t0 < K - 1) throw new RangeError(`conv task: a token range must start at 0 or at ≥ K-1 = ${K - 1} (got ${t0})`);
    const before = t0 === 0 ? stateIn : x.subarray((t0 - K + 1) * C, t0 * C);
    conv1d(x.subarray(t0 * C, t1 * C), w, b, before, t1 - t0, C, K, { silu: true, y: y.subarray(t0 * C, t1 * C), state: convStateSink(K, C) });
  },
  gemmABt: (A, B, C, M, N, K) => { gemmABt(A, B, C, M, N, K); },
  selectiveScan: (a, o) => { selectiveScan(a, o); },
};

/** What a worker needs to run the wasm kernels on the backend's memory (posted as workerData). */
export interface WasmSetup {
  memory: WebAssembly.Memory;
  gemm: WebAssembly.Module;
  scan: WebAssembly.Module;
  conv: WebAssembly.Module;
}

/** The wasm kernel set on setup.memory: every tensor a task names must be a view on that memory. */
export function wasmKernels(setup: WasmSetup): CpuKernels {
  const g = createGemmWasm(setup.gemm, setup.memory);
  const s = createSelectiveScanWasm(setup.scan, setup.memory);
  const c = createConv1dSiluWasm(setup.conv, setup.memory);
  return {
    simd: true,
    conv1dSilu: (x, w, b, stateIn, L, C, K, y, t0, t1) => { c(x, w, b, stateIn, L, C, K, { y, t0, t1 }); },
    gemmABt: (A, B, C, M, N, K, scratch) => { g.gemmABt(A, B, C, M, N, K, null, false, scratch!); },
    selectiveScan: (a, o) => { s(a, o); },
  };
}

export function runTask(task: WorkerTask, k: CpuKernels): void {
  if (task.kind === 'linear') {
    const { x, W, out, IN, OUT, t0, t1, scratch } = task;
    if (t1 > t0) k.gemmABt(x.subarray(t0 * IN, t1 * IN), W, out.subarray(t0 * OUT, t1 * OUT), t1 - t0, OUT, IN, scratch);
  } else if (task.kind === 'scan') {
    const { d0, d1, out, hL, kind: _, ...args } = task;
    if (d1 > d0) k.selectiveScan(args, { d0, d1, out, hL });
  } else if (task.kind === 'norm') {
    const { x, residual, w, resOut, normed, D, eps, t0, t1 } = task;
    const r = (a: Float32Array) => a.subarray(t0 * D, t1 * D);
    if (t1 > t0) addRmsNorm(r(x), residual ? r(residual) : null, w, t1 - t0, D, eps, { residual: r(resOut), y: r(normed) });
  } else {
    const { x, w, b, state, y, C, K, t0, t1 } = task;
    if (t1 > t0) k.conv1dSilu(x, w, b, state, y.length / C, C, K, y, t0, t1);
  }
}

// conv1d always writes the state after its tokens; a token range that is not the last throws it away.
let sink = new Float32Array(0);
function convStateSink(K: number, C: number): Float32Array {
  if (sink.length < (K - 1) * C) sink = new Float32Array((K - 1) * C);
  return sink.subarray(0, (K - 1) * C);
}
