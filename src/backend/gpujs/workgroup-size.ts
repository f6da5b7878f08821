// Workgroup sizes for gpu.js WebGPU kernels. gpu.js 2.24.1 compiles every kernel with 8×8 workgroups
// (2-D/3-D outputs) or 64 threads (1-D), fixed in WebGPUKernel.assembleWGSL. With 8×8, a 32-thread
// warp spans 4 rows of 8 columns, so a kernel whose x index runs along contiguous memory (almost all
// of ours: channels, columns) touches 4 separate 32-byte runs per load instead of one 128-byte run;
// and the probes of issue 6 measured a plain copy at 0.65 TB/s through gpu.js against 1.55 TB/s for
// hand-written WGSL at 256 threads. This patch rewrites the workgroup attribute of the generated WGSL
// and the kernel's workgroupSize (which gpu.js's dispatch arithmetic reads): 2-D/3-D kernels whose
// x extent is at least `wide[0]` get `wide` (default 32×8: a warp is 32 consecutive x of one row),
// narrower ones keep 8×8; 1-D kernels get `flat` threads. Thread ids (global_invocation_id) and the
// output index do not depend on the workgroup size, so results are unchanged. Relies on gpu.js
// 2.24.1's assembleWGSL emitting `@workgroup_size(8, 8, 1)` / `@workgroup_size(64, 1, 1)` and on
// _computeDispatch reading this.workgroupSize.

export interface WorkgroupSizes {
  /** 2-D/3-D kernels with output x ≥ wide[0] (default [32, 8]; [8, 8] = gpu.js's own) */
  wide: [number, number];
  /** 1-D kernels (default 256; 64 = gpu.js's own) */
  flat: number;
}

let current: WorkgroupSizes = { wide: [32, 8], flat: 256 };
let patched = false;

/** Patches gpu.js's WebGPU kernel class once; later kernels are built with `sizes` (see the header). */
export function installWorkgroupSizes(WebGPUKernel: { prototype: Record<string, unknown> }, sizes?: Partial<WorkgroupSizes>): void {
  if (sizes) current = { ...current, ...sizes };
  if (patched) return;
  patched = true;
  const proto = WebGPUKernel.prototype as { assembleWGSL: (this: KernelLike) => string };
  const assemble = proto.assembleWGSL;
  proto.assembleWGSL = function (this: KernelLike): string {
    let src = assemble.call(this);
    if (this.output.length === 1) {
      if (current.flat !== 64) {
        src = src.replace('@workgroup_size(64, 1, 1)', `@workgroup_size(${current.flat}, 1, 1)`);
        this.workgroupSize = [current.flat, 1, 1];
      }
    } else if (this.output[0] >= current.wide[0] && (current.wide[0] !== 8 || current.wide[1] !== 8)) {
      src = src.replace('@workgroup_size(8, 8, 1)', `@workgroup_size(${current.wide[0]}, ${current.wide[1]}, 1)`);
      this.workgroupSize = [current.wide[0], current.wide[1], 1];
    }
    return src;
  };
}

interface KernelLike { output: number[]; workgroupSize: number[] }

/** The sizes kernels built from now on get. */
export function workgroupSizes(): WorkgroupSizes {
  return { ...current };
}
