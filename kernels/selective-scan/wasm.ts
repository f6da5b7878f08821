// Selective scan forward — the WebAssembly SIMD version (./scan.as, built to
// dist/kernels/selective-scan/scan.wasm) behind the same call as `selectiveScan` in ./cpu.ts:
// args as SelectiveScanArgs (./ref.ts), options { d0, d1, out, hL } — a channel range and
// caller-owned outputs so that worker threads can split the channels. No `chunk` boundaries (the
// backward in cpu.ts computes its own). Tolerance vs selectiveScanRef: TOLERANCE.forward.
//
// All arrays must be views on `memory` (see kernels/wasm-simd.ts); out and hL are required.
import { instantiateWasmKernel } from '../wasm-simd.js';
import { type SelectiveScanArgs, type SelectiveScanGrads, type SelectiveScanResult, checkSelectiveScanArgs } from './ref.js';

interface ScanExports {
  selectiveScan(
    L: number, ED: number, N: number, u: number, deltaRaw: number, A: number, B: number, C: number, D: number,
    z: number, deltaBias: number, out: number, hL: number, d0: number, d1: number,
  ): void;
}

export interface ScanWasmOptions {
  d0?: number;
  d1?: number;
  out: Float32Array; // (L, ED)
  hL: Float32Array; // (ED, N)
}

export type SelectiveScanWasm = (a: SelectiveScanArgs<Float32Array>, o: ScanWasmOptions) => SelectiveScanResult<Float32Array>;

export function createSelectiveScanWasm(module: WebAssembly.Module, memory: WebAssembly.Memory): SelectiveScanWasm {
  const x = instantiateWasmKernel(module, memory) as unknown as ScanExports;
  return (a, o) => {
    checkSelectiveScanArgs(a);
    const { L, ED, N } = a;
    const d0 = o.d0 ?? 0;
    const d1 = o.d1 ?? ED;
    if (!(Number.isInteger(d0) && Number.isInteger(d1) && 0 <= d0 && d0 <= d1 && d1 <= ED)) {
      throw new RangeError(`selective scan: channel range [${d0}, ${d1}) is not inside [0, ${ED})`);
    }
    const { out, hL } = o;
    if (out.length !== L * ED || hL.length !== ED * N) throw new RangeError('selective scan: out/hL buffers have the wrong size');
    // hL is the running state: start it at h0 (or zeros) for this range, as cpu.ts does.
    if (a.h0) {
      if (a.h0 !== hL) hL.set(a.h0.subarray(d0 * N, d1 * N), d0 * N);
    } else {
      hL.fill(0, d0 * N, d1 * N);
    }
    x.selectiveScan(
      L, ED, N, a.u.byteOffset, a.deltaRaw.byteOffset, a.A.byteOffset, a.B.byteOffset, a.C.byteOffset, a.D.byteOffset,
      a.z.byteOffset, a.deltaBias.byteOffset, out.byteOffset, hL.byteOffset, d0, d1,
    );
    return { out, hL };
  };
}

interface ScanBackwardExports {
  scanBackwardScratchFloats(T: number, W: number, N: number): number;
  selectiveScanBackward(
    L: number, ED: number, N: number, u: number, deltaRaw: number, A: number, B: number, C: number, D: number, z: number, deltaBias: number,
    dOut: number, dhL: number, boundaries: number, T: number, scratch: number,
    dU: number, dDeltaRaw: number, dA: number, dB: number, dC: number, dD: number, dZ: number, dDeltaBias: number, dh0: number,
    d0: number, d1: number,
  ): void;
}

export interface ScanBackwardWasmOptions {
  d0?: number;
  d1?: number;
  /** tokens per recomputed chunk; boundaries are the states at every chunk start, (⌈L/chunk⌉, ED, N) */
  chunk: number;
  boundaries: Float32Array;
  /** outputs; dB, dC, dD, dDeltaBias are ADDED to (zero them first) */
  grads: SelectiveScanGrads<Float32Array>;
  /** scanBackwardScratchFloats(chunk, d1 − d0, N) floats, one per thread */
  scratch: Float32Array;
}

/** Scratch floats of a backward call (as scanBackwardScratchFloats in scan.as). */
export function scanBackwardScratchFloats(T: number, W: number, N: number): number {
  return (T + 1) * W * N + 2 * T * W + 2 * W * N + 2 * W + 32;
}

/** As `selectiveScanBackward` in ./cpu.ts with given boundaries and grads; every array a view on `memory`. */
export type SelectiveScanBackwardWasm = (
  a: SelectiveScanArgs<Float32Array>, dOut: Float32Array, dhL: Float32Array | null, o: ScanBackwardWasmOptions,
) => SelectiveScanGrads<Float32Array>;

export function createSelectiveScanBackwardWasm(module: WebAssembly.Module, memory: WebAssembly.Memory): SelectiveScanBackwardWasm {
  const x = instantiateWasmKernel(module, memory) as unknown as ScanBackwardExports;
  return (a, dOut, dhL, o) => {
    checkSelectiveScanArgs(a);
    const { L, ED, N } = a;
    const d0 = o.d0 ?? 0;
    const d1 = o.d1 ?? ED;
    if (!(Number.isInteger(d0) && Number.isInteger(d1) && 0 <= d0 && d0 <= d1 && d1 <= ED)) {
      throw new RangeError(`selective scan backward: channel range [${d0}, ${d1}) is not inside [0, ${ED})`);
    }
    const T = o.chunk;
    const g = o.grads;
    if (!(Number.isInteger(T) && T > 0)) throw new RangeError(`selective scan backward: chunk = ${T} must be a positive integer`);
    if (dOut.length !== L * ED || (dhL && dhL.length !== ED * N) || o.boundaries.length !== Math.ceil(L / T) * ED * N) {
      throw new RangeError('selective scan backward (wasm): dOut/dhL/boundaries have the wrong size');
    }
    if (g.dU.length < L * ED || g.dDeltaRaw.length < L * ED || g.dZ.length < L * ED || g.dB.length < L * N || g.dC.length < L * N
      || g.dA.length < ED * N || g.dh0.length < ED * N || g.dD.length < ED || g.dDeltaBias.length < ED) {
      throw new RangeError('selective scan backward (wasm): grads buffers too short');
    }
    if (o.scratch.length < scanBackwardScratchFloats(T, d1 - d0, N)) throw new RangeError('selective scan backward (wasm): scratch too short');
    x.selectiveScanBackward(
      L, ED, N, a.u.byteOffset, a.deltaRaw.byteOffset, a.A.byteOffset, a.B.byteOffset, a.C.byteOffset, a.D.byteOffset, a.z.byteOffset,
      a.deltaBias.byteOffset, dOut.byteOffset, dhL ? dhL.byteOffset : 0, o.boundaries.byteOffset, T, o.scratch.byteOffset,
      g.dU.byteOffset, g.dDeltaRaw.byteOffset, g.dA.byteOffset, g.dB.byteOffset, g.dC.byteOffset, g.dD.byteOffset, g.dZ.byteOffset,
      g.dDeltaBias.byteOffset, g.dh0.byteOffset, d0, d1,
    );
    return g;
  };
}
