// A cache of GPUBindGroups for gpu.js kernels on one WebGPU device. gpu.js recreates a kernel's bind
// group whenever one of its buffers changed — on every call of an `immutable` kernel, whose output is
// a new buffer each time — and createBindGroup was the largest part of a kernel call's host cost in
// dawn.node on the H100 (29 µs of ≈ 60 µs; bench/dawn-call-cost.ts). With output buffers recycled by
// the pool (buffer-pool.ts), the same (layout, buffers) combinations recur from window to window and
// chunk to chunk, so the device's createBindGroup is patched to return the bind group it made before
// for the same layout and the same buffer bindings. A bind group is an immutable object that any number
// of command buffers may use. Safe while buffers are not destroyed for real: pooled buffers never are
// (until the pool drains: clear the cache then), and a buffer object that was is never bound again,
// so its entries are only dead weight — the cache empties itself past `maxEntries`. Entries that bind
// anything but whole-or-ranged buffers (samplers, textures) bypass the cache. Relies on gpu.js 2.24.1
// creating bind groups through device.createBindGroup({ layout, entries: [{ binding, resource: { buffer } }] }).

interface BufferBinding { buffer: object; offset?: number; size?: number }
interface Entry { binding: number; resource: BufferBinding | object }
interface Desc { layout: object; entries: Entry[]; label?: string }

export interface BindGroupCache {
  /** bind groups handed out from the cache so far */
  readonly hits: number;
  /** bind groups the device created through the cache */
  readonly misses: number;
  /** forgets every cached bind group (call when the buffer pool drains) */
  clear(): void;
}

const caches = new WeakMap<object, BindGroupCache>();

export function installBindGroupCache(device: { createBindGroup(desc: Desc): unknown }, maxEntries = 50_000): BindGroupCache {
  const existing = caches.get(device);
  if (existing) return existing;
  const create = device.createBindGroup.bind(device);
  const ids = new WeakMap<object, number>();
  let next = 0;
  const id = (o: object) => {
    let v = ids.get(o);
    if (v === undefined) ids.set(o, (v = next++));
    return v;
  };
  let groups = new Map<string, unknown>();
  let hits = 0;
  let misses = 0;
  device.createBindGroup = (desc: Desc) => {
    let key = String(id(desc.layout));
    for (const e of desc.entries) {
      const r = e.resource as BufferBinding;
      if (!r || typeof r !== 'object' || !('buffer' in r)) return create(desc);
      key += `|${e.binding}:${id(r.buffer)}:${r.offset ?? 0}:${r.size ?? '-'}`;
    }
    const hit = groups.get(key);
    if (hit) {
      hits++;
      return hit;
    }
    misses++;
    if (groups.size >= maxEntries) groups = new Map();
    const g = create(desc);
    groups.set(key, g);
    return g;
  };
  const cache: BindGroupCache = {
    get hits() { return hits; },
    get misses() { return misses; },
    clear() { groups = new Map(); },
  };
  caches.set(device, cache);
  return cache;
}
