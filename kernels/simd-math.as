// Vector math shared by the WebAssembly SIMD kernels (AssemblyScript, f32x4): exp, log1p, softplus,
// SiLU. Imported by kernels/selective-scan/scan.as and kernels/conv1d/conv.as (asc compiles it into
// each module). Not a kernel; follows the scalar definitions in kernels/selective-scan/ref.ts.
//
// exp: e^x = 2^(x·log2 e) = 2^i · 2^f with i = round(x·log2 e), f ∈ [-½, ½], 2^f by a degree-5
// polynomial (relative-error fit, max 1.9e-7 in float32, ≈1.6 ulp), 2^i added into the exponent
// bits. x·log2 e is clamped to [-125, 127]: below, the result is ≈1e-38 instead of a subnormal or 0
// (a decay that small is zero to the scan); above, float32 would overflow (the TS version gives
// Infinity; A < 0 and softplus ≥ 0 keep the scan's arguments ≤ 0, so only a gate's exp(-z) can get
// there, where 1/(1 + 2^127) is 0 to float32 either way). Relative error of e^x is ≈|x|·1e-7 from
// rounding x itself, plus the polynomial's.

const LOG2E: f32 = 1.4426950408889634;
const LN2: f32 = 0.6931471805599453;
const P1: f32 = 0.6931470036506653;
const P2: f32 = 0.24022242426872253;
const P3: f32 = 0.05550733581185341;
const P4: f32 = 0.009671512991189957;
const P5: f32 = 0.001326472731307149;

// The constants live in memory and are read with v128.load32_splat (one vbroadcastss each): a
// v128.const inside a loop is rebuilt from immediates on every iteration by V8 (it hoists nothing),
// which cost more than the arithmetic (docs/decisions/cpu-simd.md). A static data segment: it lands in
// the first 64 KiB, which the heap never hands out; each instance writes the same bytes there.
const K = memory.data<f32>([
  127, -125, 12582912, P5, P4, P3, P2, P1, 1, LOG2E,
  1.4142135623730951, 0.5, 1.0 / 9.0, 1.0 / 7.0, 1.0 / 5.0, 1.0 / 3.0, 2, LN2, 20,
]);
export const K_HI = 0, K_LO = 4, K_MAGIC = 8, K_P5 = 12, K_P4 = 16, K_P3 = 20, K_P2 = 24, K_P1 = 28, K_ONE = 32, K_LOG2E = 36;
export const K_SQRT2 = 40, K_HALF = 44, K_9 = 48, K_7 = 52, K_5 = 56, K_3 = 60, K_TWO = 64, K_LN2 = 68, K_20 = 72;

export function kv(off: usize): v128 {
  return v128.load32_splat(K + off);
}

/**
 * 2^v for f32x4 v. Rounding by the 1.5·2^23 trick instead of f32x4.nearest + i32x4.trunc_sat, and
 * pmin/pmax instead of min/max: V8 expands the NaN-exact forms into several x86 instructions each.
 * NaN inputs give garbage, not NaN.
 */
export function exp2v(v: v128): v128 {
  v = f32x4.pmax(f32x4.pmin(v, kv(K_HI)), kv(K_LO));
  const t = f32x4.add(v, kv(K_MAGIC)); // 1.5·2^23: the low mantissa bits of t are round(v)
  const f = f32x4.sub(v, f32x4.sub(t, kv(K_MAGIC))); // v − round(v) ∈ [-½, ½], exact
  let p = f32x4.add(f32x4.mul(kv(K_P5), f), kv(K_P4));
  p = f32x4.add(f32x4.mul(p, f), kv(K_P3));
  p = f32x4.add(f32x4.mul(p, f), kv(K_P2));
  p = f32x4.add(f32x4.mul(p, f), kv(K_P1));
  p = f32x4.add(f32x4.mul(p, f), kv(K_ONE));
  // t's bits are 0x4B400000 + round(v); << 23 leaves round(v) << 23 (0x4B400000 << 23 ≡ 0 mod 2^32)
  return i32x4.add(p, i32x4.shl(t, 23));
}

export function expv(x: v128): v128 {
  return exp2v(f32x4.mul(x, kv(K_LOG2E)));
}

/** log(1 + y) for y ∈ [0, 1], accurate to ~1e-7 relative also for tiny y (Kahan: log(u)·y/(u−1)). */
export function log1pv(y: v128): v128 {
  const u = f32x4.add(y, kv(K_ONE)); // [1, 2]
  const big = f32x4.gt(u, kv(K_SQRT2));
  const m = v128.bitselect(f32x4.mul(u, kv(K_HALF)), u, big); // [√½, √2]
  const s = f32x4.div(f32x4.sub(m, kv(K_ONE)), f32x4.add(m, kv(K_ONE))); // |s| ≤ 0.1716
  const s2 = f32x4.mul(s, s);
  // log m = 2 atanh s = 2s (1 + s²/3 + s⁴/5 + s⁶/7 + s⁸/9); next term ≤ 2e-9
  let q = f32x4.add(f32x4.mul(kv(K_9), s2), kv(K_7));
  q = f32x4.add(f32x4.mul(q, s2), kv(K_5));
  q = f32x4.add(f32x4.mul(q, s2), kv(K_3));
  q = f32x4.add(f32x4.mul(q, s2), kv(K_ONE));
  let lg = f32x4.mul(f32x4.mul(kv(K_TWO), s), q);
  lg = f32x4.add(lg, v128.and(big, kv(K_LN2)));
  const um1 = f32x4.sub(u, kv(K_ONE)); // exact (Sterbenz)
  const one = f32x4.eq(um1, f32x4.splat(0));
  // u − 1 = 0 only for y < 2^-24, where log1p(y) = y to float32 precision.
  return v128.bitselect(y, f32x4.mul(lg, f32x4.div(y, v128.bitselect(kv(K_ONE), um1, one))), one);
}

/** softplus with torch's threshold 20 (ref.ts softplus): max(x, 0) + log1p(e^-|x|), x > 20 → x. */
export function softplusv(x: v128): v128 {
  const r = f32x4.add(f32x4.pmax(x, f32x4.splat(0)), log1pv(expv(f32x4.neg(f32x4.abs(x)))));
  return v128.bitselect(x, r, f32x4.gt(x, kv(K_20)));
}

/** z · sigmoid(z) */
export function siluv(z: v128): v128 {
  return f32x4.div(z, f32x4.add(kv(K_ONE), expv(f32x4.neg(z))));
}

