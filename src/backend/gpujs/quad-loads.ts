// Sixteen-byte loads for gpu.js WebGPU kernels. gpu.js 2.24.1 declares every array argument
// `array<f32>` and reads it one float at a time, so a thread that needs B_t[0 … 15] and C_t[0 … 15] of a
// token issues 32 loads, each with its own bounds check by the driver's robust access. In the scan's
// whole-chunk kernels these loads, not the exps, set the pace (docs/decisions/selective-scan.md). This
// patch lets a kernel call loadBC4(i) (kernels/gpujs-types.ts `quadLoadHelpers`): in a kernel whose source
// has the generated helper,
// - the argument named BC is bound as `array<vec4<f32>>` (the same buffer; its size is a multiple of 16
//   bytes wherever the caller's row stride is a multiple of 4 floats, which the scan checks);
// - the helper returns BC's quad i, one vec4 load;
// - gpu.js's scalar accessor of BC reads component i & 3 of quad i >> 2, so plain BC[…] reads still work.
// If loadBC4 is there but the patch does not find what it rewrites (another gpu.js), assembling the
// kernel throws instead of running the helper's placeholder body. Relies on gpu.js 2.24.1's WebGPU backend:
// bindings `var<storage, read> user_<name> : array<f32>;`, accessors `fn get_user_<name>(z : i32, y : i32,
// x : i32) -> f32 {\n  return user_<name>[u32(…)];\n}` and helpers emitted from their JavaScript body.
import { patchAssembleWGSL } from './wgsl-patch.js';

const BINDING = 'var<storage, read> user_BC : array<f32>;';
const ACCESSOR = /fn get_user_BC\(z : i32, y : i32, x : i32\) -> f32 \{\n  return user_BC\[u32\((.*)\)\];\n\}/;
const HELPER = /fn fn_loadBC4\(user_i : i32\) -> vec4<f32> \{\n[^}]*\n\}/;

/** Rewrites one kernel's WGSL (see the header); returns it unchanged if it does not call loadBC4. */
export function applyQuadLoads(src: string): string {
  if (!src.includes('fn fn_loadBC4(')) return src;
  const accessor = ACCESSOR.exec(src);
  if (!src.includes(BINDING) || !HELPER.test(src) || !accessor) {
    throw new Error('loadBC4: the kernel\'s WGSL is not what src/backend/gpujs/quad-loads.ts rewrites (gpu.js is not 2.24.1, or the kernel has no array argument named BC)');
  }
  return src
    .replace(BINDING, 'var<storage, read> user_BC : array<vec4<f32>>;')
    .replace(accessor[0], `fn get_user_BC(z : i32, y : i32, x : i32) -> f32 {\n  let i = u32(${accessor[1]});\n  return user_BC[i >> 2u][i & 3u];\n}`)
    .replace(HELPER, 'fn fn_loadBC4(user_i : i32) -> vec4<f32> {\n  return user_BC[u32(user_i)];\n}');
}

/** Patches gpu.js's WebGPU kernel class once (see the header). */
export function installQuadLoads(WebGPUKernel: { prototype: Record<string, unknown> }): void {
  patchAssembleWGSL(WebGPUKernel, 'quad-loads', applyQuadLoads);
}
