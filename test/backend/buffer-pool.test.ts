// The buffer pool (src/backend/gpujs/buffer-pool.ts) on a stand-in device: only gpu.js's output buffers
// (STORAGE | COPY_SRC, not mapped) are recycled, by size; a request takes the free buffer created first,
// whatever order the buffers were freed in (so that a training step binds the same buffers as the step
// before and the bind-group cache hits); drain() destroys the free ones for real.
import test from 'ava';
import { installBufferPool } from '../../src/backend/gpujs/buffer-pool.js';

const STORAGE_COPY_SRC = 0x80 | 0x04;

function fakeDevice() {
  let made = 0;
  const reallyDestroyed: number[] = [];
  const device = {
    createBuffer(desc: { size: number; usage: number; mappedAtCreation?: boolean }) {
      const id = made++;
      return { id, size: desc.size, destroy() { reallyDestroyed.push(id); } };
    },
  };
  return { device, reallyDestroyed, get made() { return made; } };
}
type Buf = { id: number; size: number; destroy(): void };

test('buffer pool: recycles output buffers by size, the first created first, whatever the order they were freed in', (t) => {
  const f = fakeDevice();
  const pool = installBufferPool(f.device);
  const get = (size: number, usage = STORAGE_COPY_SRC) => f.device.createBuffer({ size, usage }) as Buf;
  const [a, b, c] = [get(64), get(64), get(64)];
  const other = get(128);
  t.is(f.made, 4);
  for (const x of [c, a, b]) x.destroy();
  t.is(pool.freeBytes, 3 * 64);
  t.deepEqual([get(64).id, get(64).id, get(64).id], [a.id, b.id, c.id]);
  t.is(f.made, 4, 'no new buffer while a free one of the size exists');
  t.is(pool.reused, 3);
  // the same again after freeing in another order: the assignment depends only on what is free
  for (const x of [b, c, a]) x.destroy();
  t.is(get(64).id, a.id);
  b.destroy(); // b was free already: a second destroy is ignored
  t.is(get(64).id, b.id);
  t.is(get(64).id, c.id);
  t.is(get(64).id, 4, 'a new buffer when none of the size is free');
  // other usages (uniforms, staging, mapped) pass through untouched
  const u = get(64, 0x40 | 0x08);
  u.destroy();
  t.deepEqual(f.reallyDestroyed, [u.id]);
  t.not(get(64, 0x40 | 0x08).id, u.id);
  // drain destroys the free buffers for real
  other.destroy();
  pool.drain();
  t.deepEqual(f.reallyDestroyed.slice(1).sort(), [other.id]);
  a.destroy();
  t.true(f.reallyDestroyed.includes(a.id) === false, 'a freed after the drain goes back to the pool');
  t.is(installBufferPool(f.device), pool, 'installed once per device');
});

test('buffer pool, lastFreedFirst (the earlier order, for benchmarks): the buffer freed last comes back first', (t) => {
  const f = fakeDevice();
  const pool = installBufferPool(f.device);
  pool.lastFreedFirst = true;
  const get = () => f.device.createBuffer({ size: 32, usage: STORAGE_COPY_SRC }) as Buf;
  const [a, b, c] = [get(), get(), get()];
  for (const x of [c, a, b]) x.destroy();
  t.deepEqual([get().id, get().id, get().id], [b.id, a.id, c.id]);
});
