// The bind-group cache (src/backend/gpujs/bind-group-cache.ts) on a stand-in device: the same layout
// and buffer bindings give back the same bind group; any different binding, layout, offset or size
// makes a new one; non-buffer resources bypass the cache; the cache empties past maxEntries and on clear().
// (The GPU engine's tests run it for real: grad-gpu.test.ts's repeat calls must give identical bits.)
import test from 'ava';
import { installBindGroupCache } from '../../src/backend/gpujs/bind-group-cache.js';

function fakeDevice() {
  let made = 0;
  return {
    get made() { return made; },
    createBindGroup(desc: unknown) {
      made++;
      return { desc, n: made };
    },
  };
}

test('bind-group cache: same layout and buffers → the same bind group; anything else → a new one', (t) => {
  const dev = fakeDevice();
  const cache = installBindGroupCache(dev, 4);
  const L1 = {}, L2 = {}, a = {}, b = {}, c = {};
  const desc = (layout: object, x: object, y: object, offset?: number) => ({
    layout, entries: [{ binding: 0, resource: { buffer: x } }, { binding: 1, resource: { buffer: y, ...(offset !== undefined ? { offset } : {}) } }],
  });
  const g1 = dev.createBindGroup(desc(L1, a, b));
  t.is(dev.createBindGroup(desc(L1, a, b)), g1);
  t.not(dev.createBindGroup(desc(L1, a, c)), g1);
  t.not(dev.createBindGroup(desc(L2, a, b)), g1);
  t.not(dev.createBindGroup(desc(L1, b, a)), g1);
  t.not(dev.createBindGroup(desc(L1, a, b, 256)), g1);
  t.is(cache.hits, 1);
  t.is(dev.made, 5);
  // a sampler-like resource bypasses the cache
  const other = { layout: L1, entries: [{ binding: 0, resource: { sampler: true } }] };
  t.not(dev.createBindGroup(other), dev.createBindGroup(other));
  // past maxEntries (4) the cache starts over; clear() empties it
  dev.createBindGroup(desc(L2, c, c));
  t.not(dev.createBindGroup(desc(L1, a, b)), g1);
  const g2 = dev.createBindGroup(desc(L1, a, b));
  t.is(dev.createBindGroup(desc(L1, a, b)), g2);
  cache.clear();
  t.not(dev.createBindGroup(desc(L1, a, b)), g2);
  // bindings not numbered 0, 1, … in order go by the string key: cached all the same
  const odd = (x: object) => ({ layout: L2, entries: [{ binding: 3, resource: { buffer: x } }] });
  const g3 = dev.createBindGroup(odd(a));
  t.is(dev.createBindGroup(odd(a)), g3);
  t.not(dev.createBindGroup(odd(b)), g3);
  t.is(installBindGroupCache(dev), cache, 'installed once per device');
});
