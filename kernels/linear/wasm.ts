// linear — the WebAssembly SIMD gemmABt (./gemm.as, built to dist/kernels/linear/gemm.wasm) behind
// the same call shape as gemmABt in ./cpu.ts: C (M, N) = A (M, K) · B (N, K)ᵀ (+ bias) (+ C).
// Tolerance vs linearRef (./ref.ts): TOLERANCE.forward. Not a loader of its own: kernels/wasm-simd.ts
// compiles the module and owns the shared memory.
//
// Every array passed here must be a view on `memory` (allocated by a WasmHeap on it, or a subarray
// of one): the kernel takes their byteOffsets as pointers, with no copy.
import { instantiateWasmKernel } from '../wasm-simd.js';

interface GemmExports {
  gemmScratchFloats(N: number, K: number): number;
  gemmABt(A: number, B: number, C: number, M: number, N: number, K: number, bias: number, acc: number, scratch: number): void;
}

export interface GemmWasm {
  /** floats of scratch a call with these N, K needs (B packed in panels of 8 columns, padded bias) */
  scratchFloats(N: number, K: number): number;
  /** as gemmABt in ./cpu.ts, plus `scratch`: scratchFloats(N, K) floats on the same memory, one per thread */
  gemmABt(
    A: Float32Array, B: Float32Array, C: Float32Array, M: number, N: number, K: number,
    bias: Float32Array | null, accumulate: boolean, scratch: Float32Array,
  ): Float32Array;
}

/** Scratch floats of a call with these N, K (as gemmScratchFloats in gemm.as), without an instance. */
export function gemmScratchFloats(N: number, K: number): number {
  const P = (N + 7) >> 3;
  return P * K * 8 + P * 8;
}

export function createGemmWasm(module: WebAssembly.Module, memory: WebAssembly.Memory): GemmWasm {
  const x = instantiateWasmKernel(module, memory) as unknown as GemmExports;
  return {
    scratchFloats: (N, K) => x.gemmScratchFloats(N, K),
    gemmABt(A, B, C, M, N, K, bias, accumulate, scratch) {
      if (A.length < M * K || B.length < N * K || C.length < M * N || (bias && bias.length < N)) {
        throw new RangeError(`gemmABt (wasm): operands too short for M=${M} N=${N} K=${K}`);
      }
      if (scratch.length < gemmScratchFloats(N, K)) throw new RangeError(`gemmABt (wasm): scratch has ${scratch.length} floats, needs ${gemmScratchFloats(N, K)}`);
      x.gemmABt(A.byteOffset, B.byteOffset, C.byteOffset, M, N, K, bias ? bias.byteOffset : 0, accumulate ? 1 : 0, scratch.byteOffset);
      return C;
    },
  };
}
