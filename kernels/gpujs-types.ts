// The minimal gpu.js surface that kernels/ depends on. kernels/ never imports gpu.js itself: a
// factory receives the instance (src/backend/gpu-runtime.ts creates it) typed as GpuJsLike.
// Kernel calls return a value, a typed array (nested for 2-D/3-D outputs) or, in webgpu mode, a
// Promise of one; with `pipeline: true` in webgpu mode they return a device-resident handle.

export interface GpuJsLike {
  createKernel(fn: Function | string, settings?: object): any;
  /** 'webgpu' | 'webasm' | 'cpu' | … */
  mode?: string;
}

/** A device-resident gpu.js result (`pipeline: true` in webgpu mode). */
export interface GpuHandle {
  toArray(): Promise<unknown> | unknown;
  delete(): void;
  clone(): GpuHandle;
  readonly output: readonly number[];
}

/** Options every kernel factory accepts; passed through to gpu.js. */
export interface KernelOptions {
  /** keep outputs on the device as handles that feed the next kernel (default false: read back) */
  pipeline?: boolean;
  /** a fresh output buffer per call (default false: one buffer, overwritten by the next call) */
  immutable?: boolean;
}

/**
 * gpu.js settings for a kernel with the given output size. Shape constants are declared 'Integer' so
 * index arithmetic such as `x[this.thread.y * this.constants.C + i]` compiles to i32 in WGSL (untyped
 * constants become f32 literals, exact only below 2^24); `floats` hold real-valued constants (eps).
 */
export function kernelSettings(
  output: number[], ints: Record<string, number>, floats: Record<string, number> = {}, opts: KernelOptions = {},
): Record<string, unknown> {
  const constantTypes: Record<string, string> = {};
  for (const k of Object.keys(ints)) {
    if (!Number.isInteger(ints[k])) throw new RangeError(`kernel constant ${k} = ${ints[k]} must be an integer`);
    constantTypes[k] = 'Integer';
  }
  for (const k of Object.keys(floats)) constantTypes[k] = 'Float';
  return {
    output,
    constants: { ...ints, ...floats },
    constantTypes,
    pipeline: opts.pipeline ?? false,
    immutable: opts.immutable ?? false,
  };
}

/**
 * A kernel that returns `Array(2|3|4)` writes `componentCount` floats per thread (thread i's values at
 * [i·n, i·n + n)). gpu.js 2.24.1 refuses such a pipeline handle as another kernel's argument; this
 * returns a second handle on the same device buffer seen as `count` plain floats (its own reference:
 * delete both). Relies on gpu.js's WebGPUBufferResult constructor (buffer, output, componentCount,
 * context, kernel), checked against gpu.js 2.24.1.
 */
export function flatView(handle: GpuHandle, count: number): GpuHandle {
  const h = handle as GpuHandle & { buffer: { size: number }; componentCount?: number; context: unknown; kernel: unknown };
  if (!h.buffer || typeof h.buffer.size !== 'number') throw new TypeError('flatView: not a gpu.js WebGPU pipeline handle');
  if (count * 4 > h.buffer.size) throw new RangeError(`flatView: ${count} floats do not fit the ${h.buffer.size}-byte buffer`);
  const Ctor = (handle as object).constructor as new (s: object) => GpuHandle;
  return new Ctor({ buffer: h.buffer, output: [count], componentCount: 1, context: h.context, kernel: h.kernel });
}

/**
 * Constants that make a kernel returning `Array(2|3|4)` store value c of thread (x, y, z) at
 * x·sx + y·sy + z·sz + c·sk of its output (src/backend/gpujs/lane-strides.ts patches gpu.js's WGSL for
 * it; webgpu only). The strides must map every thread's values one-to-one into threads × n floats.
 * Read the result through laneView, which checks that the patch applied.
 */
export function laneStrides(sx: number, sy: number, sz: number, sk: number): Record<'LSX' | 'LSY' | 'LSZ' | 'LSK', number> {
  return { LSX: sx, LSY: sy, LSZ: sz, LSK: sk };
}

/**
 * A result stored with laneStrides, seen as `count` plain floats: takes the kernel's handle over
 * (returns a flatView of it and deletes the handle itself), so callers hold one handle. Throws, handle
 * untouched, if gpu.js did not apply the strides (an unpatched or different gpu.js would have written
 * the blocked layout instead).
 */
export function laneView(handle: GpuHandle, count: number): GpuHandle {
  return takeOver(handle, count, 'laneStrided', 'laneView: the kernel was built without strided stores (src/backend/gpujs/lane-strides.ts is not installed, or gpu.js is not 2.24.1)');
}

/** flatView of a patched kernel's result that replaces the handle; throws, handle untouched, unless `kernel[mark]`. */
function takeOver(handle: GpuHandle, count: number, mark: 'laneStrided' | 'scattered', refusal: string): GpuHandle {
  if ((handle as { kernel?: Record<string, unknown> }).kernel?.[mark] !== true) throw new Error(refusal);
  const view = flatView(handle, count);
  handle.delete();
  return view;
}

/**
 * Inside a kernel: store v at index i (an Integer expression) of the kernel's output, any number of
 * times per thread. Needs `functions: scatterHelpers` and the constants of scatterFloats
 * (src/backend/gpujs/scatter-stores.ts patches gpu.js's WGSL for it; webgpu only — elsewhere this is the
 * identity and stores nothing). Returns v.
 */
export function storeAt(i: number, v: number): number {
  return v;
}

/** gpu.js `functions` setting that makes storeAt callable from a kernel. */
export const scatterHelpers = [{ source: storeAt, settings: { argumentTypes: { i: 'Integer', v: 'Number' }, returnType: 'Number' } }];

/**
 * Inside a kernel: the four floats BC[4i … 4i+3] of the kernel's array argument named `BC`, as one 16-byte
 * load (i an Integer expression counting quads). Needs `functions: quadLoadHelpers`; src/backend/gpujs/
 * quad-loads.ts patches gpu.js's WGSL for it (the binding becomes `array<vec4<f32>>`, scalar reads of BC
 * still work), installed by src/backend/gpu-runtime.ts's getGpu with the scatter-store patch. webgpu only:
 * where the patch finds WGSL it does not rewrite, assembling the kernel throws; on webasm and cpu, or on a
 * gpu.js without the patch, this placeholder returns i four times (the scan's callers also store through
 * storeAt, whose scatterView refuses an unpatched kernel).
 */
export function loadBC4(i: number): number[] {
  return [i, i, i, i];
}

/** gpu.js `functions` setting that makes loadBC4 callable from a kernel (add scatterHelpers' entry for both). */
export const quadLoadHelpers = [{ source: loadBC4, settings: { argumentTypes: { i: 'Integer' }, returnType: 'Array(4)' } }];

/**
 * Constants that make a kernel's output buffer hold `count` floats written through storeAt; the kernel's
 * own return value is then discarded. Read the result through scatterView.
 */
export function scatterFloats(count: number): { SFLOATS: number } {
  return { SFLOATS: count };
}

/**
 * A result written through storeAt, seen as `count` plain floats: takes the kernel's handle over (as
 * laneView). Throws, handle untouched, if gpu.js did not apply the scatter patch.
 */
export function scatterView(handle: GpuHandle, count: number): GpuHandle {
  return takeOver(handle, count, 'scattered', 'scatterView: the kernel was built without scattered stores (src/backend/gpujs/scatter-stores.ts is not installed, or gpu.js is not 2.24.1)');
}
