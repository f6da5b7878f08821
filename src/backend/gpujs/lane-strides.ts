// Strided stores for gpu.js WebGPU kernels that return `Array(2|3|4)`. gpu.js 2.24.1 writes such a
// thread's n values at [n·i, n·i + n) of its output (i = the thread's flat index), so a kernel that
// computes four positions of one channel produces a blocked layout that another pass had to turn back
// into rows (the scan's unblock kernels: 2 GiB moved per 2^20 tokens each). This patch lets a kernel
// say where its values go instead: if its constants hold LSX, LSY, LSZ and LSK (integers; kernels get
// them from kernels/gpujs-types.ts laneStrides), value c of thread (x, y, z) is stored at
// x·LSX + y·LSY + z·LSZ + c·LSK. The kernel's output buffer keeps gpu.js's size (threads × n floats),
// so the strides must map the threads' values one-to-one into it (the callers' layouts: rows of
// (chunks·T, width) from [width, T/4, chunks] grids, and chunk starts (4·parents, N, ED)). Only 2-D/3-D
// grids; the patched kernel is marked `laneStrided`, which laneView (gpujs-types.ts) checks before any
// caller reads the buffer in that layout, so an unpatched gpu.js fails loudly instead of silently
// returning blocked values. Relies on gpu.js 2.24.1's WebGPU function node emitting
// `result[data_index * n + c] = …` (c = 0 … n−1) for each return of the root kernel and assembleWGSL
// declaring `gid`.
import { patchAssembleWGSL } from './wgsl-patch.js';

/** Patches gpu.js's WebGPU kernel class once (see the header). */
export function installLaneStrides(WebGPUKernel: { prototype: Record<string, unknown> }): void {
  patchAssembleWGSL(WebGPUKernel, 'lane-strides', function (this: KernelLike, src: string): string {
    const k = this.constants ?? {};
    if (k.LSK === undefined) return src;
    const n = /^Array\(([234])\)$/.exec(String(this.returnType))?.[1];
    const strides = [k.LSX, k.LSY, k.LSZ, k.LSK];
    if (!n || this.output.length < 2 || !strides.every((s) => Number.isInteger(s))) return src;
    const store = new RegExp(`result\\[data_index \\* ${n} \\+ (\\d)\\]`, 'g');
    const count = (src.match(store) ?? []).length; // n stores per return statement
    if (count === 0 || count % Number(n) !== 0 || !src.includes('fn main(@builtin(global_invocation_id) gid : vec3<u32>)')) return src;
    const base = `i32(gid.x) * ${strides[0]} + i32(gid.y) * ${strides[1]} + i32(gid.z) * ${strides[2]}`;
    this.laneStrided = true;
    return src.replace(store, (_m, c: string) => `result[${base} + ${Number(c) * strides[3]}]`);
  });
}

interface KernelLike { output: number[]; constants?: Record<string, number>; returnType?: string; laneStrided?: boolean }
