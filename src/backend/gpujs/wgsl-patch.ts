// One mechanism for the gpu.js patches in this folder (workgroup-size, lane-strides, scatter-stores,
// quad-loads): each installs a rewrite of the WGSL that gpu.js 2.24.1's WebGPUKernel.assembleWGSL returns,
// once per kernel class, chained after the rewrites installed before it.

const installed = new WeakMap<object, Set<string>>();

/**
 * Wraps WebGPUKernel.prototype.assembleWGSL so that `rewrite` (called with the kernel as `this`) gets the
 * assembled WGSL and returns it, changed or not. Installs `name` once per class: returns false, changing
 * nothing, if it was installed already.
 */
export function patchAssembleWGSL<K>(WebGPUKernel: { prototype: Record<string, unknown> }, name: string, rewrite: (this: K, src: string) => string): boolean {
  let names = installed.get(WebGPUKernel);
  if (!names) installed.set(WebGPUKernel, (names = new Set()));
  if (names.has(name)) return false;
  names.add(name);
  const proto = WebGPUKernel.prototype as { assembleWGSL: (this: K) => string };
  const assemble = proto.assembleWGSL;
  proto.assembleWGSL = function (this: K): string {
    return rewrite.call(this, assemble.call(this));
  };
  return true;
}
