// A recycling pool for the output buffers of gpu.js `immutable` pipeline kernels on one WebGPU device.
// gpu.js gives every immutable call a fresh GPUBuffer (device.createBuffer) and destroys it when the
// last handle is deleted; on the H100 an element-wise kernel over 64 MiB then ran at ≈ 50 GB/s, most of
// its time in allocating (and Dawn zero-initialising) a new buffer. The pool patches the device's
// createBuffer for exactly those buffers (usage STORAGE | COPY_SRC, not mapped at creation): destroy()
// returns a buffer to a free list keyed by size, and the next request of that size takes it back.
// Reuse is safe in WebGPU's ordering: a later dispatch writing the buffer is queued after every
// earlier one reading it. A request takes the free buffer of that size that was created first, not the
// one freed last: then which buffer a call gets depends only on which are free, not on the order earlier
// steps freed them, so a training step binds the same buffers as the step before and the bind-group
// cache (bind-group-cache.ts) hits. (With last-freed-first, the order of a free list is permuted by every
// step, and on the 2-core machine half of a step's bind groups were new ones.) Not for buffers anyone maps
// (gpu.js reads back through separate staging buffers) and not shared with other devices. Relies on gpu.js internals (kernel.js
// _ensureOutputBuffer, buffer-result.js delete), checked against gpu.js 2.24.1.
const USAGE_STORAGE = 0x80;
const USAGE_COPY_SRC = 0x04;

interface PooledBuffer {
  readonly size: number;
  destroy(): void;
  __pooled?: boolean;
  __destroy?: () => void;
  /** creation order: free lists are kept sorted by it, the first created last */
  __serial?: number;
}

export interface BufferPool {
  /** bytes held in free lists now */
  readonly freeBytes: number;
  /** buffers handed out from the free lists so far */
  readonly reused: number;
  /** destroys every free buffer for real (live ones return to the pool when deleted); the patch stays */
  drain(): void;
  /** benchmarks: hand out the buffer freed last instead of the one created first (the earlier order) */
  lastFreedFirst: boolean;
}

const pools = new WeakMap<object, BufferPool>();

export function installBufferPool(device: { createBuffer(desc: { size: number; usage: number; mappedAtCreation?: boolean }): unknown }): BufferPool {
  const existing = pools.get(device);
  if (existing) return existing;
  const free = new Map<number, PooledBuffer[]>();
  const create = device.createBuffer.bind(device);
  let freeBytes = 0;
  let reused = 0;
  let draining = false;
  let serial = 0;
  let lastFreedFirst = false;
  device.createBuffer = (desc) => {
    if (desc.usage !== (USAGE_STORAGE | USAGE_COPY_SRC) || desc.mappedAtCreation) return create(desc);
    const hit = free.get(desc.size)?.pop();
    if (hit) {
      hit.__pooled = false;
      freeBytes -= hit.size;
      reused++;
      return hit;
    }
    const buf = create(desc) as PooledBuffer;
    buf.__serial = serial++;
    buf.__destroy = buf.destroy.bind(buf);
    buf.destroy = () => {
      if (buf.__pooled) return; // destroyed twice (a kernel's destroy() after its handle's): already free
      if (draining) return buf.__destroy!();
      buf.__pooled = true;
      let list = free.get(buf.size);
      if (!list) free.set(buf.size, (list = []));
      if (lastFreedFirst) list.push(buf);
      else {
        // sorted by descending serial, so that pop() takes the first created
        let lo = 0, hi = list.length;
        while (lo < hi) {
          const mid = (lo + hi) >> 1;
          if (list[mid].__serial! > buf.__serial!) lo = mid + 1;
          else hi = mid;
        }
        list.splice(lo, 0, buf);
      }
      freeBytes += buf.size;
    };
    return buf;
  };
  const pool: BufferPool = {
    get freeBytes() { return freeBytes; },
    get reused() { return reused; },
    get lastFreedFirst() { return lastFreedFirst; },
    set lastFreedFirst(v: boolean) { lastFreedFirst = v; },
    drain() {
      draining = true;
      for (const list of free.values()) for (const b of list) b.__destroy!();
      free.clear();
      freeBytes = 0;
      draining = false;
    },
  };
  pools.set(device, pool);
  return pool;
}
