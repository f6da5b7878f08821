// Sixteen-byte loads for gpu.js kernels (src/backend/gpujs/quad-loads.ts): the WGSL rewrite applies only to
// kernels that call loadBC4, in the form gpu.js 2.24.1 emits, and refuses anything else rather than run the
// helper's placeholder; on WebGPU (lavapipe in CI), a real kernel reads quads and single floats of the same
// argument. (The scan kernels that rely on it are checked against the float64 reference in
// test/kernels/selective-scan.test.ts.)
import test from 'ava';
import { applyQuadLoads } from '../../src/backend/gpujs/quad-loads.js';
import { getGpu, probeWebGpu, shutdownGpu } from '../../src/backend/gpu-runtime.js';
import { loadBC4, quadLoadHelpers } from '../../kernels/gpujs-types.js';

const BINDING = '@group(0) @binding(1) var<storage, read> user_BC : array<f32>;';
const ACCESSOR = 'fn get_user_BC(z : i32, y : i32, x : i32) -> f32 {\n  return user_BC[u32(x + i32(params.user_BC_dims.x) * (y + i32(params.user_BC_dims.y) * z))];\n}';
const HELPER = 'fn fn_loadBC4(user_i : i32) -> vec4<f32> {\nreturn vec4<f32>(f32(user_i), f32(user_i), f32(user_i), f32(user_i));\n}';

test('quad loads: rewritten only where loadBC4 is called, refused where the WGSL is not what gpu.js 2.24.1 emits', (t) => {
  const src = `${BINDING}\n${ACCESSOR}\n${HELPER}\nfn main() {\nlet q = fn_loadBC4(2);\n}`;
  const out = applyQuadLoads(src);
  t.true(out.includes('var<storage, read> user_BC : array<vec4<f32>>;'), out);
  t.true(out.includes('return user_BC[i >> 2u][i & 3u];'), out);
  t.true(out.includes('fn fn_loadBC4(user_i : i32) -> vec4<f32> {\n  return user_BC[u32(user_i)];\n}'), out);
  t.false(out.includes('f32(user_i)'));
  // no helper: untouched
  const plain = `${BINDING}\n${ACCESSOR}\nfn main() {}`;
  t.is(applyQuadLoads(plain), plain);
  // the helper without a BC argument, or with gpu.js emitting another accessor: refused
  t.throws(() => applyQuadLoads(`${ACCESSOR}\n${HELPER}`), { message: /quad-loads\.ts/ });
  t.throws(() => applyQuadLoads(`${BINDING}\n${HELPER}\nfn get_user_BC(x : i32) -> f32 { return user_BC[x]; }`), { message: /quad-loads\.ts/ });
});

const probe = await probeWebGpu();
if (!probe.ok) console.log(`quad-loads webgpu test skipped: ${probe.reason}`);
test.after.always(async () => { await shutdownGpu(); });

/** Thread x: quad x of BC, its four floats weighted 1, 10, 100, 1000. */
function quadSum(this: { thread: { x: number } }, BC: number[]): number {
  const q = loadBC4(this.thread.x);
  return q[0] + 10 * q[1] + 100 * q[2] + 1000 * q[3];
}

/** The same from single-float reads, in a kernel that also calls loadBC4 (so its BC is bound as quads). */
function scalarSum(this: { thread: { x: number } }, BC: number[]): number {
  const q = loadBC4(0);
  return BC[this.thread.x * 4] + 10 * BC[this.thread.x * 4 + 1] + 100 * BC[this.thread.x * 4 + 2] + 1000 * BC[this.thread.x * 4 + 3] + 0 * q[0];
}

(probe.ok ? test : test.skip)('quad loads on WebGPU: loadBC4(i) returns BC[4i … 4i+3]; single-float reads of BC still work', async (t) => {
  const gpu = await getGpu('webgpu');
  const n = 37;
  const BC = Float32Array.from({ length: 4 * n }, (_, i) => (i % 4) + 1 + ((i >> 2) % 3) * 4); // small integers: sums exact in f32
  const want = Array.from({ length: n }, (_, x) => BC[4 * x] + 10 * BC[4 * x + 1] + 100 * BC[4 * x + 2] + 1000 * BC[4 * x + 3]);
  for (const fn of [quadSum, scalarSum]) {
    const got = Array.from(await gpu.createKernel(fn, { output: [n], functions: quadLoadHelpers })(BC) as Float32Array);
    t.log(`${fn.name}: ${got.slice(0, 4).join(', ')} … (want ${want.slice(0, 4).join(', ')} …)`);
    t.deepEqual(got, want);
  }
});
