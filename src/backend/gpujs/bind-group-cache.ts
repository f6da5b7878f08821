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
// The usual descriptor (bindings 0, 1, … in order, whole buffers) is looked up in a tree of Maps keyed by
// the layout and then each buffer object: a hit costs a few Map lookups, where building a string key cost
// ≈ 5 µs per kernel call on the H100's host (a fifth of the host time left per call); others go by a
// string key.

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
  interface Node { next: Map<object, Node>; group?: unknown }
  let tree = new Map<object, Node>();
  let size = 0; // entries in groups and tree together
  const reset = () => {
    groups = new Map();
    tree = new Map();
    size = 0;
  };
  let hits = 0;
  let misses = 0;
  const plain = (entries: Entry[]) => {
    for (let i = 0; i < entries.length; i++) {
      const e = entries[i];
      const r = e.resource as BufferBinding;
      if (e.binding !== i || !r || typeof r !== 'object' || !('buffer' in r) || r.offset !== undefined || r.size !== undefined) return false;
    }
    return true;
  };
  device.createBindGroup = (desc: Desc) => {
    if (plain(desc.entries)) {
      const walk = () => {
        let node = tree.get(desc.layout);
        if (!node) tree.set(desc.layout, (node = { next: new Map() }));
        for (const e of desc.entries) {
          const buffer = (e.resource as BufferBinding).buffer;
          let child = node.next.get(buffer);
          if (!child) node.next.set(buffer, (child = { next: new Map() }));
          node = child;
        }
        return node;
      };
      let node = walk();
      if (node.group) {
        hits++;
        return node.group;
      }
      misses++;
      if (size >= maxEntries) {
        reset();
        node = walk();
      }
      size++;
      return (node.group = create(desc));
    }
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
    if (size >= maxEntries) reset();
    size++;
    const g = create(desc);
    groups.set(key, g);
    return g;
  };
  const cache: BindGroupCache = {
    get hits() { return hits; },
    get misses() { return misses; },
    clear: reset,
  };
  caches.set(device, cache);
  return cache;
}
