// conv1d + SiLU forward — the WebAssembly SIMD version (./conv.as, built to dist/kernels/conv1d/conv.wasm)
// with the call shape of `conv1d(x, w, b, state, L, C, K, { silu: true, y, state })` in ./cpu.ts,
// plus a token range [t0, t1) for threads. Returns y and writes the new state (last K-1 rows of
// [state; x]) when `stateOut` is given. Tolerance vs conv1dRef (./ref.ts): TOLERANCE.forward.
// All arrays must be views on `memory` (kernels/wasm-simd.ts).
import { instantiateWasmKernel } from '../wasm-simd.js';

interface ConvExports {
  conv1dSilu(x: number, w: number, b: number, state: number, y: number, C: number, K: number, t0: number, t1: number): void;
}

export type Conv1dSiluWasm = (
  x: Float32Array, w: Float32Array, b: Float32Array | null, stateIn: Float32Array | null, L: number, C: number, K: number,
  o: { y: Float32Array; stateOut?: Float32Array; t0?: number; t1?: number },
) => void;

export function createConv1dSiluWasm(module: WebAssembly.Module, memory: WebAssembly.Memory): Conv1dSiluWasm {
  const e = instantiateWasmKernel(module, memory) as unknown as ConvExports;
  return (x, w, b, stateIn, L, C, K, o) => {
    const t0 = o.t0 ?? 0, t1 = o.t1 ?? L;
    if (x.length < L * C || w.length < C * K || o.y.length < L * C || (b && b.length < C) || (stateIn && stateIn.length < (K - 1) * C)) {
      throw new RangeError(`conv1d (wasm): arrays too short for L=${L} C=${C} K=${K}`);
    }
    if (!(0 <= t0 && t0 <= t1 && t1 <= L)) throw new RangeError(`conv1d (wasm): token range [${t0}, ${t1}) not inside [0, ${L})`);
    e.conv1dSilu(x.byteOffset, w.byteOffset, b ? b.byteOffset : 0, stateIn ? stateIn.byteOffset : 0, o.y.byteOffset, C, K, t0, t1);
    if (o.stateOut) convStateAfter(x, stateIn, L, C, K, o.stateOut);
  };
}

/** The last K-1 rows of [stateIn (or zeros); x]: the state after these L tokens. out must not alias stateIn. */
export function convStateAfter(x: Float32Array, stateIn: Float32Array | null, L: number, C: number, K: number, out: Float32Array): void {
  const keep = K - 1;
  const fromState = Math.max(0, keep - L); // rows still coming from the old state
  if (fromState > 0) {
    if (stateIn) out.set(stateIn.subarray((keep - fromState) * C, keep * C), 0);
    else out.fill(0, 0, fromState * C);
  }
  out.set(x.subarray((L - (keep - fromState)) * C, L * C), fromState * C);
}
