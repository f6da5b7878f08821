// Strided stores for gpu.js kernels returning Array(n) (src/backend/gpujs/lane-strides.ts): on a
// stand-in kernel class, the WGSL rewrite applies only where a kernel asks for it and gpu.js emitted
// the form the patch expects; on WebGPU (lavapipe in CI), a real four-lane kernel lands its values as
// rows, and laneView refuses a kernel whose stores were not rewritten.
// (The scan kernels that rely on it are checked against the float64 reference in test/kernels/.)
import test from 'ava';
import { installLaneStrides } from '../../src/backend/gpujs/lane-strides.js';
import { getGpu, probeWebGpu, shutdownGpu } from '../../src/backend/gpu-runtime.js';
import { type GpuHandle, kernelSettings, laneStrides, laneView } from '../../kernels/gpujs-types.js';

class FakeKernel {
  laneStrided?: boolean;
  constructor(public output: number[], public constants: Record<string, number>, public returnType: string, private readonly body: string) {}
  assembleWGSL(this: FakeKernel): string {
    return `fn main(@builtin(global_invocation_id) gid : vec3<u32>) {\n${this.body}\n}`;
  }
}
const stores = (n: number) => Array.from({ length: n }, (_, c) => `result[data_index * ${n} + ${c}] = v.${'xyzw'[c]};`).join('\n');

test('lane strides: the stores are rewritten only when asked for, and only in the form gpu.js emits', (t) => {
  installLaneStrides(FakeKernel as unknown as { prototype: Record<string, unknown> });
  const k = new FakeKernel([256, 4, 9], laneStrides(1, 1024, 4096, 256), 'Array(4)', stores(4));
  const src = k.assembleWGSL();
  t.true(k.laneStrided);
  t.true(src.includes('result[i32(gid.x) * 1 + i32(gid.y) * 1024 + i32(gid.z) * 4096 + 768] = v.w;'), src);
  t.false(src.includes('data_index'));
  // a kernel with two return statements: both rewritten
  const twice = new FakeKernel([256, 4, 9], laneStrides(1, 1024, 4096, 256), 'Array(4)', `if (a) {\n${stores(4)}\n}\n${stores(4)}`);
  t.is(twice.assembleWGSL().match(/i32\(gid\.z\) \* 4096 \+ 512\]/g)?.length, 2);
  const two = new FakeKernel([8, 2, 3], laneStrides(1, 16, 32, 8), 'Array(2)', stores(2));
  t.true(two.assembleWGSL().includes('result[i32(gid.x) * 1 + i32(gid.y) * 16 + i32(gid.z) * 32 + 8] = v.y;'));
  // not asked, 1-D, a count of stores the patch does not expect: untouched and not marked
  for (const other of [
    new FakeKernel([256, 4, 9], {}, 'Array(4)', stores(4)),
    new FakeKernel([1024], laneStrides(1, 0, 0, 256), 'Array(4)', stores(4)),
    new FakeKernel([256, 4, 9], laneStrides(1, 1024, 4096, 256), 'Array(4)', stores(3)),
    new FakeKernel([256, 4, 9], laneStrides(1, 1024, 4096, 256), 'Number', 'result[data_index] = v;'),
  ]) {
    const before = `fn main(@builtin(global_invocation_id) gid : vec3<u32>) {\n${(other as unknown as { body: string }).body}\n}`;
    t.is(other.assembleWGSL(), before);
    t.not(other.laneStrided, true);
  }
});

const probe = await probeWebGpu();
if (!probe.ok) console.log(`lane-strides webgpu test skipped: ${probe.reason}`);
test.after.always(async () => { await shutdownGpu(); });

/** Thread (w, q, c) returns rows c·T + 4q + j of column w, each value t·100 + w. */
function quadRows(this: { thread: { x: number; y: number; z: number }; constants: { T: number } }): number[] {
  const t0 = this.thread.z * this.constants.T + this.thread.y * 4;
  return [t0 * 100 + this.thread.x, (t0 + 1) * 100 + this.thread.x, (t0 + 2) * 100 + this.thread.x, (t0 + 3) * 100 + this.thread.x];
}

(probe.ok ? test : test.skip)('webgpu: a four-lane kernel with laneStrides writes (chunks·T, W) rows; without them laneView refuses', async (t) => {
  const gpu = await getGpu('webgpu');
  const W = 5, Q = 3, C = 7, T = 4 * Q;
  const k = gpu.createKernel(quadRows, { ...kernelSettings([W, Q, C], { T, ...laneStrides(1, 4 * W, T * W, W) }, {}, { pipeline: true, immutable: true }), returnType: 'Array(4)' });
  const stored = await k() as GpuHandle;
  const rows = laneView(stored, C * T * W); // takes the handle over
  const got = await rows.toArray() as Float32Array;
  rows.delete();
  let bad = 0;
  for (let r = 0; r < C * T; r++) for (let w = 0; w < W; w++) if (got[r * W + w] !== r * 100 + w) bad++;
  t.log(`${C * T}×${W} rows, ${bad} misplaced`);
  t.is(bad, 0);
  const plain = gpu.createKernel(quadRows, { ...kernelSettings([W, Q, C], { T }, {}, { pipeline: true, immutable: true }), returnType: 'Array(4)' });
  const blocked = await plain() as GpuHandle;
  t.throws(() => laneView(blocked, C * T * W), { message: /without strided stores/ });
  blocked.delete();
});
