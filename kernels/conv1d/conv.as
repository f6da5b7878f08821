// conv1d + SiLU forward in WebAssembly SIMD (AssemblyScript, f32x4): the causal depthwise conv the
// Mamba mixer applies to x before the scan, y = SiLU(b + Σ_k w[c, k]·x[t-K+1+k, c]), rows before
// token 0 taken from the carried state (K-1, C) or zeros. Same contract as `conv1d(..., {silu: true})`
// in ./cpu.ts and conv1dRef in ./ref.ts (y only: the new state is the last K-1 rows of [state; x],
// a copy the caller makes). Float32 accumulation (cpu.ts: float64) — K terms, within TOLERANCE.forward.
// Not the backward. Built by scripts/build-wasm.mjs to dist/kernels/conv1d/conv.wasm; JS side ./wasm.ts.
//
// Token range [t0, t1) so that threads can split the tokens: rows before t0 are read from x itself
// (or the state), so any range gives the one-call result. Vectorised over 4 channels (w is (C, K),
// so a group's taps are gathered; for K = 4 once per block of 64 tokens, held in 4 vectors).
import { siluv } from '../simd-math';

const TB = 64;

/** x row p (p < 0: state row K-1+p, or zeros when there is no state), 4 channels from c. */
function rowv(x: usize, state: usize, p: i32, C: i32, K: i32, c: i32): v128 {
  if (p >= 0) return v128.load(x + ((<usize>p * <usize>C + <usize>c) << 2));
  if (state == 0) return f32x4.splat(0);
  return v128.load(state + ((<usize>(K - 1 + p) * <usize>C + <usize>c) << 2));
}

function rows(x: usize, state: usize, p: i32, C: i32, K: i32, c: i32): f32 {
  if (p >= 0) return load<f32>(x + ((<usize>p * <usize>C + <usize>c) << 2));
  if (state == 0) return 0;
  return load<f32>(state + ((<usize>(K - 1 + p) * <usize>C + <usize>c) << 2));
}

/** [w[c, k], w[c+1, k], w[c+2, k], w[c+3, k]] from w (C, K) at wc = &w[c, 0], row stride wr bytes. */
function gatherW(wc: usize, wr: usize, k: i32): v128 {
  const kk = <usize>k << 2;
  let v = v128.load32_splat(wc + kk);
  v = f32x4.replace_lane(v, 1, load<f32>(wc + wr + kk));
  v = f32x4.replace_lane(v, 2, load<f32>(wc + 2 * wr + kk));
  return f32x4.replace_lane(v, 3, load<f32>(wc + 3 * wr + kk));
}

/** y (L, C) rows [t0, t1) = SiLU(conv); x (L, C), w (C, K), b (C) or 0, state (K-1, C) or 0. */
export function conv1dSilu(x: usize, w: usize, b: usize, state: usize, y: usize, C: i32, K: i32, t0: i32, t1: i32): void {
  for (let tb = t0; tb < t1; tb += TB) {
    const te = min(t1, tb + TB);
    let c = 0;
    for (; c + 4 <= C; c += 4) {
      const bias = b != 0 ? v128.load(b + (<usize>c << 2)) : f32x4.splat(0);
      const wc = w + (<usize>(c * K) << 2);
      const wr = <usize>K << 2;
      if (K == 4) {
        // Mamba's d_conv: the 4 taps of 4 channels held in 4 vectors for the whole block.
        const w0 = gatherW(wc, wr, 0), w1 = gatherW(wc, wr, 1), w2 = gatherW(wc, wr, 2), w3 = gatherW(wc, wr, 3);
        for (let t = tb; t < te; t++) {
          let acc = f32x4.add(bias, f32x4.mul(w0, rowv(x, state, t - 3, C, K, c)));
          acc = f32x4.add(acc, f32x4.mul(w1, rowv(x, state, t - 2, C, K, c)));
          acc = f32x4.add(acc, f32x4.mul(w2, rowv(x, state, t - 1, C, K, c)));
          acc = f32x4.add(acc, f32x4.mul(w3, v128.load(x + ((<usize>t * <usize>C + <usize>c) << 2))));
          v128.store(y + ((<usize>t * <usize>C + <usize>c) << 2), siluv(acc));
        }
        continue;
      }
      for (let t = tb; t < te; t++) {
        let acc = bias;
        for (let k = 0; k < K; k++) {
          // w[c..c+3, k]: 4 strided floats (L1-resident: the group's 4·K weights)
          acc = f32x4.add(acc, f32x4.mul(gatherW(wc, wr, k), rowv(x, state, t - K + 1 + k, C, K, c)));
        }
        v128.store(y + ((<usize>t * <usize>C + <usize>c) << 2), siluv(acc));
      }
    }
    for (; c < C; c++) {
      for (let t = tb; t < te; t++) {
        let acc: f32 = b != 0 ? load<f32>(b + (<usize>c << 2)) : 0;
        for (let k = 0; k < K; k++) acc += load<f32>(w + (<usize>(c * K + k) << 2)) * rows(x, state, t - K + 1 + k, C, K, c);
        store<f32>(y + ((<usize>t * <usize>C + <usize>c) << 2), f32x4.extract_lane(siluv(f32x4.splat(acc)), 0));
      }
    }
  }
}
