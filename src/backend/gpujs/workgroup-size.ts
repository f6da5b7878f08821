// Workgroup sizes for gpu.js WebGPU kernels. gpu.js 2.24.1 compiles every kernel with 8×8 workgroups
// (2-D/3-D outputs) or 64 threads (1-D), fixed in WebGPUKernel.assembleWGSL. With 8×8, a 32-thread
// warp spans 4 rows of 8 columns, so a kernel whose x index runs along contiguous memory (almost all
// of ours: channels, columns) touches 4 separate 32-byte runs per load instead of one 128-byte run;
// and the probes of issue 6 measured a plain copy at 0.65 TB/s through gpu.js against 1.55 TB/s for
// hand-written WGSL at 256 threads. This patch rewrites the workgroup attribute of the generated WGSL
// and the kernel's workgroupSize (which gpu.js's dispatch arithmetic reads): 2-D/3-D kernels whose
// x extent is at least `wide[0]` get `wide` (default 32×8: a warp is 32 consecutive x of one row),
// narrower ones keep 8×8; 1-D kernels get `flat` threads. A wide 3-D grid whose y extent is below the
// workgroup's y (the several-positions-per-thread scan kernels: [ED, 2, chunks]) gets its spare rows
// in z (32×2×4): with 32×8×1, 3/4 of every workgroup idled, and the register-heavy dΔraw kernel ran
// 3.3× slower on the H100 (44.8 vs 13.4 ms at 2^20). Narrow kernels are not folded: the scan's (t, n)
// gradient kernels [16, 2, chunks] ran 2× slower folded to 8×2×4 than at gpu.js's 8×8. Thread ids (global_invocation_id) and the
// output index do not depend on the workgroup size, so results are unchanged. Relies on gpu.js
// 2.24.1's assembleWGSL emitting `@workgroup_size(8, 8, 1)` / `@workgroup_size(64, 1, 1)` and setting
// this.workgroupSize to match, which _computeDispatch reads; where it does not (another version), the
// kernel keeps gpu.js's sizes — the attribute and the dispatch never disagree.
import { patchAssembleWGSL } from './wgsl-patch.js';

export interface WorkgroupSizes {
  /** 2-D/3-D kernels with output x ≥ wide[0] (default [32, 8]; [8, 8] = gpu.js's own) */
  wide: [number, number];
  /** 1-D kernels (default 256; 64 = gpu.js's own) */
  flat: number;
}

let current: WorkgroupSizes = { wide: [32, 8], flat: 256 };

/** Patches gpu.js's WebGPU kernel class once; later kernels are built with `sizes` (see the header). */
export function installWorkgroupSizes(WebGPUKernel: { prototype: Record<string, unknown> }, sizes?: Partial<WorkgroupSizes>): void {
  if (sizes) current = { ...current, ...sizes };
  patchAssembleWGSL(WebGPUKernel, 'workgroup-size', function (this: KernelLike, src: string): string {
    // the shader's attribute and the dispatch arithmetic must change together: only where gpu.js
    // emitted exactly what this patch expects (another gpu.js version keeps its own sizes)
    const swap = (from: string, size: [number, number, number]): string => {
      if (!src.includes(from) || this.workgroupSize?.join() !== from.slice(16, -1).split(', ').join()) return src;
      this.workgroupSize = size;
      return src.replace(from, `@workgroup_size(${size.join(', ')})`);
    };
    if (this.output.length === 1) return current.flat === 64 ? src : swap('@workgroup_size(64, 1, 1)', [current.flat, 1, 1]);
    if (this.output[0] < current.wide[0]) return src;
    const [wx, wy] = current.wide;
    // a wide 3-D grid shorter than the workgroup in y (e.g. [ED, 2, chunks]: several positions per
    // thread at chunk 8) would leave most of each workgroup idle: its spare rows go to z instead
    const ny = this.output.length === 3 ? Math.min(wy, 2 ** Math.floor(Math.log2(Math.max(1, this.output[1])))) : wy;
    return swap('@workgroup_size(8, 8, 1)', [wx, ny, wy / ny]);
  });
}

interface KernelLike { output: number[]; workgroupSize: number[] }

/** The sizes kernels built from now on get. */
export function workgroupSizes(): WorkgroupSizes {
  return { ...current };
}
