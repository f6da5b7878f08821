// The minimal gpu.js surface that kernels/ depends on. kernels/ never imports gpu.js itself: a
// factory receives the instance (src/backend/gpu-runtime.ts creates it) typed as GpuJsLike.
// Kernel calls return a value, a typed array (nested for 2-D/3-D outputs) or, in webgpu mode, a
// Promise of one; with `pipeline: true` in webgpu mode they return a device-resident handle.

export interface GpuJsLike {
  createKernel(fn: Function, settings?: object): any;
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
