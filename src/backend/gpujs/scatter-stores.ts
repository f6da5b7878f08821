// Any number of stored values per thread for gpu.js WebGPU kernels. gpu.js 2.24.1 gives a thread one
// result (or 2–4 as `Array(n)`), so a thread that has computed a 4 × 4 tile of a matrix product or all
// T outputs of a chunk has to drop most of them, and the work is redone by more threads (GEMMs capped
// at 2 × 2 tiles, one load per multiply-add; the scan's replays). This patch lets a kernel store where
// it likes: it calls the helper storeAt(i, v) (kernels/gpujs-types.ts `scatterHelpers`, an Integer i)
// once per value, and if its constants hold SFLOATS (an integer), then
// - the generated helper `fn_storeAt` writes result[i] = v;
// - the kernel's own returns store nothing (`result[data_index] = e` becomes the phony `_ = e`);
// - its output buffer holds SFLOATS floats (gpu.js would size it by the thread grid).
// The grid is then only the thread grid. The patched kernel is marked `scattered`, which scatterView
// (gpujs-types.ts) checks before a caller reads the buffer, so an unpatched or different gpu.js fails
// loudly instead of returning whatever its own stores left there. Relies on gpu.js 2.24.1's WebGPU
// backend: helpers emitted as `fn fn_<name>(user_<arg> : <type>, …) -> f32 {\nreturn user_v;\n}`, root
// returns as `result[data_index] = …;`, output buffers made in `_ensureOutputBuffer` from `threadDim`.
// webgpu only: webasm and cpu modes run the helper as the identity and store nothing.
import { patchAssembleWGSL } from './wgsl-patch.js';

interface KernelLike {
  constants?: Record<string, number>;
  scattered?: boolean;
  threadDim: number[];
  componentCount: number;
}

/** The generated helper of scatterHelpers' storeAt, exactly as gpu.js 2.24.1 emits it. */
const HELPER = 'fn fn_storeAt(user_i : i32, user_v : f32) -> f32 {\nreturn user_v;\n}';

/** Patches gpu.js's WebGPU kernel class once (see the header). */
export function installScatterStores(WebGPUKernel: { prototype: Record<string, unknown> }): void {
  const first = patchAssembleWGSL(WebGPUKernel, 'scatter-stores', function (this: KernelLike, src: string): string {
    const n = this.constants?.SFLOATS;
    if (n === undefined || !Number.isInteger(n) || n < 1 || this.componentCount !== 1) return src;
    if (!src.includes(HELPER) || !src.includes('result[data_index] = ')) return src;
    this.scattered = true;
    return src
      .replace(HELPER, 'fn fn_storeAt(user_i : i32, user_v : f32) -> f32 {\n  result[user_i] = user_v;\n  return user_v;\n}')
      .replaceAll('result[data_index] = ', '_ = ');
  });
  if (!first) return;
  // the output buffer: gpu.js sizes it as threadDim's product × componentCount floats; a scattering
  // kernel needs SFLOATS. threadDim is swapped for one of that product only while the buffer is made.
  const proto = WebGPUKernel.prototype as { _ensureOutputBuffer: (this: KernelLike) => void };
  const ensure = proto._ensureOutputBuffer;
  proto._ensureOutputBuffer = function (this: KernelLike): void {
    const n = this.constants?.SFLOATS;
    if (n === undefined) return ensure.call(this);
    const dims = this.threadDim;
    this.threadDim = [n, 1, 1];
    try {
      ensure.call(this);
    } finally {
      this.threadDim = dims;
    }
  };
}
