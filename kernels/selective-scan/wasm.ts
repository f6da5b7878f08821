// Selective scan forward — the WebAssembly SIMD version (./scan.as, built to
// dist/kernels/selective-scan/scan.wasm) behind the same call as `selectiveScan` in ./cpu.ts:
// args as SelectiveScanArgs (./ref.ts), options { d0, d1, out, hL } — a channel range and
// caller-owned outputs so that worker threads can split the channels. No `chunk` boundaries (the
// backward in cpu.ts computes its own). Tolerance vs selectiveScanRef: TOLERANCE.forward.
//
// All arrays must be views on `memory` (see kernels/wasm-simd.ts); out and hL are required.
import { instantiateWasmKernel } from '../wasm-simd.js';
import { type SelectiveScanArgs, type SelectiveScanResult, checkSelectiveScanArgs } from './ref.js';

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
