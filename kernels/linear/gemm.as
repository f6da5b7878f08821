// linear — WebAssembly SIMD (AssemblyScript, v128 f32x4) version of gemmABt in ./cpu.ts:
//   C (M, N) = A (M, K) · B (N, K)ᵀ (+ bias[n]) (+ C when accumulate), all row-major, float32.
// Same contract as gemmABt (and linearRef in ./ref.ts for y = x Wᵀ + b); accumulation is float32
// (cpu.ts accumulates in float64), within TOLERANCE.forward for the model's K ≤ a few thousand.
// Not multi-threaded (the CPU backend splits rows over threads) and not the backward.
//
// Compiled by scripts/build-wasm.mjs into dist/kernels/linear/gemm.wasm; the extension is `.as` so
// that tsc leaves it alone. Arguments are byte offsets into the imported (shared) memory; the JS side
// is ./wasm.ts.
//
// Method: B is packed once per call into `scratch` as panels of 8 columns, k-major
// (panel p: Bp[k·8 + j] = B[(8p + j)·K + k], zero past N), so that one k step of a 4 × 8 tile of C
// is 2 vector loads of B, 4 broadcast loads of A and 8 multiply + 8 add into 8 f32x4 accumulators
// (14 live vectors: fits the 16 SIMD registers V8 has on x86-64, no spills). docs/decisions/cpu-simd.md
// has the alternatives measured.

/** Floats of scratch gemmABt needs: B packed as ⌈N/8⌉ panels of K × 8, then 8⌈N/8⌉ bias values. */
export function gemmScratchFloats(N: i32, K: i32): i32 {
  const P = (N + 7) >> 3;
  return P * K * 8 + P * 8;
}

function packB(B: usize, N: i32, K: i32, bias: usize, Bp: usize): void {
  const P = (N + 7) >> 3;
  for (let p = 0; p < P; p++) {
    const dst = Bp + (<usize>(p * K * 8) << 2);
    for (let j = 0; j < 8; j++) {
      const n = p * 8 + j;
      if (n < N) {
        const src = B + (<usize>(n * K) << 2);
        for (let k = 0; k < K; k++) store<f32>(dst + (<usize>(k * 8 + j) << 2), load<f32>(src + (<usize>k << 2)));
      } else {
        for (let k = 0; k < K; k++) store<f32>(dst + (<usize>(k * 8 + j) << 2), 0);
      }
    }
  }
  const bp = Bp + (<usize>(P * K * 8) << 2);
  for (let n = 0; n < P * 8; n++) store<f32>(bp + (<usize>n << 2), bias != 0 && n < N ? load<f32>(bias + (<usize>n << 2)) : 0);
}

/** Writes (or adds, when acc) the first `cols` ≤ 8 lanes of v0|v1 at C. */
function storeRow(C: usize, v0: v128, v1: v128, cols: i32, acc: bool): void {
  if (cols == 8) {
    if (acc) {
      v0 = f32x4.add(v0, v128.load(C));
      v1 = f32x4.add(v1, v128.load(C, 16));
    }
    v128.store(C, v0);
    v128.store(C, v1, 16);
    return;
  }
  // Partial panel: lane by lane so nothing past column N (another row, or another thread's rows) is touched.
  for (let j = 0; j < cols; j++) {
    let x: f32;
    switch (j) {
      case 0: x = f32x4.extract_lane(v0, 0); break;
      case 1: x = f32x4.extract_lane(v0, 1); break;
      case 2: x = f32x4.extract_lane(v0, 2); break;
      case 3: x = f32x4.extract_lane(v0, 3); break;
      case 4: x = f32x4.extract_lane(v1, 0); break;
      case 5: x = f32x4.extract_lane(v1, 1); break;
      case 6: x = f32x4.extract_lane(v1, 2); break;
      default: x = f32x4.extract_lane(v1, 3); break;
    }
    const at = C + (<usize>j << 2);
    store<f32>(at, acc ? load<f32>(at) + x : x);
  }
}

/**
 * C (M, N) = A (M, K) · B (N, K)ᵀ (+ bias) (+ C). bias = 0 means none; acc ≠ 0 adds into C.
 * scratch: gemmScratchFloats(N, K) floats, 16-byte aligned, private to this call (one per thread).
 */
export function gemmABt(A: usize, B: usize, C: usize, M: i32, N: i32, K: i32, bias: usize, acc: i32, scratch: usize): void {
  if (M <= 0 || N <= 0) return;
  packB(B, N, K, bias, scratch);
  const P = (N + 7) >> 3;
  const biasP = scratch + (<usize>(P * K * 8) << 2);
  const rowA = <usize>K << 2;
  const rowC = <usize>N << 2;
  const accumulate = acc != 0;
  let m = 0;
  for (; m + 4 <= M; m += 4) {
    const a0 = A + <usize>m * rowA;
    const c0 = C + <usize>m * rowC;
    for (let p = 0; p < P; p++) {
      let s00 = v128.load(biasP + (<usize>p << 5));
      let s01 = v128.load(biasP + (<usize>p << 5), 16);
      let s10 = s00, s11 = s01, s20 = s00, s21 = s01, s30 = s00, s31 = s01;
      let bp = scratch + (<usize>(p * K) << 5);
      let a = a0;
      for (let k = 0; k < K; k++) {
        const b0 = v128.load(bp);
        const b1 = v128.load(bp, 16);
        let x = v128.load32_splat(a);
        s00 = f32x4.add(s00, f32x4.mul(x, b0));
        s01 = f32x4.add(s01, f32x4.mul(x, b1));
        x = v128.load32_splat(a + rowA);
        s10 = f32x4.add(s10, f32x4.mul(x, b0));
        s11 = f32x4.add(s11, f32x4.mul(x, b1));
        x = v128.load32_splat(a + 2 * rowA);
        s20 = f32x4.add(s20, f32x4.mul(x, b0));
        s21 = f32x4.add(s21, f32x4.mul(x, b1));
        x = v128.load32_splat(a + 3 * rowA);
        s30 = f32x4.add(s30, f32x4.mul(x, b0));
        s31 = f32x4.add(s31, f32x4.mul(x, b1));
        bp += 32;
        a += 4;
      }
      const cols = min(8, N - p * 8);
      const c = c0 + (<usize>p << 5);
      storeRow(c, s00, s01, cols, accumulate);
      storeRow(c + rowC, s10, s11, cols, accumulate);
      storeRow(c + 2 * rowC, s20, s21, cols, accumulate);
      storeRow(c + 3 * rowC, s30, s31, cols, accumulate);
    }
  }
  // Leftover rows (M % 4): a 1 × 8 tile.
  for (; m < M; m++) {
    const a0 = A + <usize>m * rowA;
    const c0 = C + <usize>m * rowC;
    for (let p = 0; p < P; p++) {
      let s0 = v128.load(biasP + (<usize>p << 5));
      let s1 = v128.load(biasP + (<usize>p << 5), 16);
      let bp = scratch + (<usize>(p * K) << 5);
      let a = a0;
      for (let k = 0; k < K; k++) {
        const x = v128.load32_splat(a);
        s0 = f32x4.add(s0, f32x4.mul(x, v128.load(bp)));
        s1 = f32x4.add(s1, f32x4.mul(x, v128.load(bp, 16)));
        bp += 32;
        a += 4;
      }
      storeRow(c0 + (<usize>p << 5), s0, s1, min(8, N - p * 8), accumulate);
    }
  }
}
