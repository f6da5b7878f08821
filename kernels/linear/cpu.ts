// linear — float32 CPU version of y = x Wᵀ (+ b) and its backward, tuned for V8.
// Same contract as ref.ts (x (L, IN), W (OUT, IN), b (OUT) | null; dX = dY W, dW = dYᵀ x, db = Σ dY);
// float32 storage, float64 accumulation (JS numbers). Not multi-threaded, not SIMD.
//
// Why it is fast enough: everything reduces to one kernel, gemmABt (C = A Bᵀ with both operands
// row-major along the reduction dim, so every inner-loop read is contiguous). It computes a 4×4
// block of C per pass over k (8 loads feed 16 multiply-adds held in locals) and walks B in column
// blocks of ≤ 32 KiB so they stay in L1 while the rows of A stream past. Measured in bench.ts
// (docs/benchmarks.md): ≈3–5 GFLOP/s on one core here versus ≈1 for the naive loop.
// Backward transposes W (for dX) and dY, x (for dW) once, then reuses gemmABt.

/**
 * C (M, N) = A (M, K) · B (N, K)ᵀ (+ bias[n]) (+ C when accumulate). A, B, C row-major.
 * `bias` is added per column n; `accumulate` adds into C's existing values instead of overwriting.
 */
export function gemmABt(
  A: Float32Array, B: Float32Array, C: Float32Array, M: number, N: number, K: number,
  bias: Float32Array | null = null, accumulate = false,
): Float32Array {
  // Column block of B sized to ~32 KiB (8,192 floats), a multiple of 4.
  const NB = Math.max(4, (Math.floor(8192 / Math.max(K, 1)) >> 2) << 2);
  for (let nb = 0; nb < N; nb += NB) {
    const ne = Math.min(N, nb + NB);
    let m = 0;
    for (; m + 4 <= M; m += 4) {
      const a0 = m * K, a1 = a0 + K, a2 = a1 + K, a3 = a2 + K;
      let n = nb;
      for (; n + 4 <= ne; n += 4) {
        const b0 = n * K, b1 = b0 + K, b2 = b1 + K, b3 = b2 + K;
        let s00 = 0, s01 = 0, s02 = 0, s03 = 0, s10 = 0, s11 = 0, s12 = 0, s13 = 0;
        let s20 = 0, s21 = 0, s22 = 0, s23 = 0, s30 = 0, s31 = 0, s32 = 0, s33 = 0;
        for (let k = 0; k < K; k++) {
          const x0 = A[a0 + k], x1 = A[a1 + k], x2 = A[a2 + k], x3 = A[a3 + k];
          let w = B[b0 + k];
          s00 += x0 * w; s10 += x1 * w; s20 += x2 * w; s30 += x3 * w;
          w = B[b1 + k];
          s01 += x0 * w; s11 += x1 * w; s21 += x2 * w; s31 += x3 * w;
          w = B[b2 + k];
          s02 += x0 * w; s12 += x1 * w; s22 += x2 * w; s32 += x3 * w;
          w = B[b3 + k];
          s03 += x0 * w; s13 += x1 * w; s23 += x2 * w; s33 += x3 * w;
        }
        if (bias) {
          const c0 = bias[n], c1 = bias[n + 1], c2 = bias[n + 2], c3 = bias[n + 3];
          s00 += c0; s10 += c0; s20 += c0; s30 += c0;
          s01 += c1; s11 += c1; s21 += c1; s31 += c1;
          s02 += c2; s12 += c2; s22 += c2; s32 += c2;
          s03 += c3; s13 += c3; s23 += c3; s33 += c3;
        }
        let c = m * N + n;
        if (accumulate) {
          C[c] += s00; C[c + 1] += s01; C[c + 2] += s02; C[c + 3] += s03; c += N;
          C[c] += s10; C[c + 1] += s11; C[c + 2] += s12; C[c + 3] += s13; c += N;
          C[c] += s20; C[c + 1] += s21; C[c + 2] += s22; C[c + 3] += s23; c += N;
          C[c] += s30; C[c + 1] += s31; C[c + 2] += s32; C[c + 3] += s33;
        } else {
          C[c] = s00; C[c + 1] = s01; C[c + 2] = s02; C[c + 3] = s03; c += N;
          C[c] = s10; C[c + 1] = s11; C[c + 2] = s12; C[c + 3] = s13; c += N;
          C[c] = s20; C[c + 1] = s21; C[c + 2] = s22; C[c + 3] = s23; c += N;
          C[c] = s30; C[c + 1] = s31; C[c + 2] = s32; C[c + 3] = s33;
        }
      }
      // Leftover columns (N % 4): 4 rows × 1 column.
      for (; n < ne; n++) {
        const b0 = n * K;
        let s0 = 0, s1 = 0, s2 = 0, s3 = 0;
        for (let k = 0; k < K; k++) {
          const w = B[b0 + k];
          s0 += A[a0 + k] * w; s1 += A[a1 + k] * w; s2 += A[a2 + k] * w; s3 += A[a3 + k] * w;
        }
        const bb = bias ? bias[n] : 0;
        const c = m * N + n;
        if (accumulate) {
          C[c] += s0 + bb; C[c + N] += s1 + bb; C[c + 2 * N] += s2 + bb; C[c + 3 * N] += s3 + bb;
        } else {
          C[c] = s0 + bb; C[c + N] = s1 + bb; C[c + 2 * N] = s2 + bb; C[c + 3 * N] = s3 + bb;
        }
      }
    }
    // Leftover rows (M % 4): one dot product each.
    for (; m < M; m++) {
      const a0 = m * K;
      for (let n = nb; n < ne; n++) {
        const b0 = n * K;
        let s = bias ? bias[n] : 0;
        for (let k = 0; k < K; k++) s += A[a0 + k] * B[b0 + k];
        if (accumulate) C[m * N + n] += s;
        else C[m * N + n] = s;
      }
    }
  }
  return C;
}

/** (R, S) row-major → (S, R) row-major. */
export function transpose(src: Float32Array, R: number, S: number, out: Float32Array = new Float32Array(R * S)): Float32Array {
  for (let r = 0; r < R; r++) {
    const base = r * S;
    for (let s = 0; s < S; s++) out[s * R + r] = src[base + s];
  }
  return out;
}

function checkSizes(x: Float32Array, W: Float32Array, L: number, IN: number, OUT: number): void {
  if (x.length < L * IN) throw new RangeError(`linear: x has ${x.length} values, expected L*IN = ${L}*${IN}`);
  if (W.length < OUT * IN) throw new RangeError(`linear: W has ${W.length} values, expected OUT*IN = ${OUT}*${IN}`);
}

/**
 * y (L, OUT) = x (L, IN) · W (OUT, IN)ᵀ (+ b). A slice of a fused projection (W's rows [r0, r1)) is
 * `W.subarray(r0 * IN, r1 * IN)` with OUT = r1 - r0 — no copy.
 */
export function linear(
  x: Float32Array, W: Float32Array, b: Float32Array | null, L: number, IN: number, OUT: number,
  out: Float32Array = new Float32Array(L * OUT), // (L, OUT)
): Float32Array {
  checkSizes(x, W, L, IN, OUT);
  return gemmABt(x, W, out, L, OUT, IN, b);
}

export interface LinearGrads32 {
  dX: Float32Array; // (L, IN)
  dW: Float32Array; // (OUT, IN)
  db: Float32Array | null; // (OUT)
}

/**
 * Optional caller-owned buffers for linearBackward. Reuse them across calls: on this kind of VM the
 * first touch of freshly allocated memory costs ≈5–10 ms per 2 MiB (page faults), more than the math.
 */
export interface LinearBackwardBuffers {
  dX?: Float32Array; // (L, IN)
  dW?: Float32Array; // (OUT, IN)
  dYT?: Float32Array; // scratch (OUT, L)
  xT?: Float32Array; // scratch (IN, L)
}

/** dX = dY W, dW = dYᵀ x, db = Σ_t dY (when hasBias). */
export function linearBackward(
  x: Float32Array, W: Float32Array, dY: Float32Array, L: number, IN: number, OUT: number, hasBias: boolean,
  buf: LinearBackwardBuffers = {},
): LinearGrads32 {
  checkSizes(x, W, L, IN, OUT);
  const WT = transpose(W, OUT, IN); // (IN, OUT)
  const dX = gemmABt(dY, WT, buf.dX ?? new Float32Array(L * IN), L, IN, OUT); // (L, IN)
  const dYT = transpose(dY, L, OUT, buf.dYT); // (OUT, L)
  const xT = transpose(x, L, IN, buf.xT); // (IN, L)
  const dW = gemmABt(dYT, xT, buf.dW ?? new Float32Array(OUT * IN), OUT, IN, L); // (OUT, IN)
  let db: Float32Array | null = null;
  if (hasBias) {
    db = new Float32Array(OUT);
    for (let o = 0; o < OUT; o++) {
      let s = 0;
      const base = o * L;
      for (let t = 0; t < L; t++) s += dYT[base + t];
      db[o] = s;
    }
  }
  return { dX, dW, db };
}
