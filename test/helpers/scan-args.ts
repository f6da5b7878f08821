// Seeded selective-scan inputs shared by the scan tests (reference, CPU, gpu.js forward and backward).
import type { SelectiveScanArgs } from '../../kernels/selective-scan/ref.js';
import { mulberry32, randn, randu } from './random.js';

/** Seeded inputs in the ranges a trained Mamba sees: A = -exp(A_log), A_log ∈ [0, log 16]. */
export function randomScanArgs(seed: number, L: number, ED: number, N: number, withH0: boolean): SelectiveScanArgs<Float64Array> {
  const rng = mulberry32(seed);
  return {
    L, ED, N,
    u: randn(rng, L * ED), deltaRaw: randn(rng, L * ED, 1, -1), z: randn(rng, L * ED),
    A: randu(rng, ED * N, 0, Math.log(16)).map((x) => -Math.exp(x)),
    B: randn(rng, L * N), C: randn(rng, L * N), D: randn(rng, ED), deltaBias: randu(rng, ED, -4, 0),
    h0: withH0 ? randn(rng, ED * N) : null,
  };
}
