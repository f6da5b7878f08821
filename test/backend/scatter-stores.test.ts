// Any number of stores per thread for gpu.js kernels (src/backend/gpujs/scatter-stores.ts): on a
// stand-in kernel class, the WGSL rewrite applies only where a kernel asks for it and gpu.js emitted the
// helper and the stores the patch expects; on WebGPU (lavapipe in CI), a real kernel storing several
// values per thread fills a buffer larger than its thread grid, and scatterView refuses a kernel whose
// stores were not rewritten. (The register-tile linears that rely on it are checked against the float64
// reference in test/kernels/linear.test.ts.)
import test from 'ava';
import { installScatterStores } from '../../src/backend/gpujs/scatter-stores.js';
import { getGpu, probeWebGpu, shutdownGpu } from '../../src/backend/gpu-runtime.js';
import { type GpuHandle, kernelSettings, scatterFloats, scatterHelpers, scatterView, storeAt } from '../../kernels/gpujs-types.js';
import { readFlat } from '../helpers/compare.js';

const HELPER = 'fn fn_storeAt(user_i : i32, user_v : f32) -> f32 {\nreturn user_v;\n}';

class FakeKernel {
  scattered?: boolean;
  made: number[] = [];
  constructor(public threadDim: number[], public constants: Record<string, number>, public componentCount: number, private readonly body: string) {}
  assembleWGSL(this: FakeKernel): string {
    return this.body;
  }
  _ensureOutputBuffer(this: FakeKernel): void {
    this.made.push(this.threadDim[0] * this.threadDim[1] * this.threadDim[2] * this.componentCount);
  }
}

test('scatter stores: the helper and the returns are rewritten only when asked for, and only in the form gpu.js emits', (t) => {
  installScatterStores(FakeKernel as unknown as { prototype: Record<string, unknown> });
  const body = `${HELPER}\nfn main() {\nfn_storeAt(3, v);\nresult[data_index] = 0.0;return;\n}`;
  const k = new FakeKernel([4, 2, 1], scatterFloats(40), 1, body);
  const src = k.assembleWGSL();
  t.true(k.scattered);
  t.true(src.includes('result[user_i] = user_v;'), src);
  t.true(src.includes('_ = 0.0;return;'), src);
  t.false(src.includes('result[data_index]'));
  k._ensureOutputBuffer();
  t.deepEqual(k.made, [40]); // SFLOATS floats, not the 8 threads'
  t.deepEqual(k.threadDim, [4, 2, 1]); // restored
  // not asked, no helper, a four-value kernel: untouched, not marked, buffers by the grid
  for (const other of [
    new FakeKernel([4, 2, 1], {}, 1, body),
    new FakeKernel([4, 2, 1], scatterFloats(40), 1, 'fn main() {\nresult[data_index] = 0.0;return;\n}'),
    new FakeKernel([4, 2, 1], scatterFloats(40), 4, body),
  ]) {
    const before = (other as unknown as { body: string }).body;
    t.is(other.assembleWGSL(), before);
    t.not(other.scattered, true);
  }
  const plain = new FakeKernel([4, 2, 1], {}, 1, body);
  plain._ensureOutputBuffer();
  t.deepEqual(plain.made, [8]);
});

const probe = await probeWebGpu();
if (!probe.ok) console.log(`scatter-stores webgpu test skipped: ${probe.reason}`);
test.after.always(async () => { await shutdownGpu(); });

/** Thread (x, y) stores five values, reversed within its run of 5: index 5·(y·W + x) + j gets 1000·y + 10·x + 4 − j. */
function storeRun(this: { thread: { x: number; y: number }; constants: { W: number } }): number {
  storeAt((this.thread.y * this.constants.W + this.thread.x) * 5 + 4, this.thread.y * 1000 + this.thread.x * 10);
  storeAt((this.thread.y * this.constants.W + this.thread.x) * 5 + 3, this.thread.y * 1000 + this.thread.x * 10 + 1);
  storeAt((this.thread.y * this.constants.W + this.thread.x) * 5 + 2, this.thread.y * 1000 + this.thread.x * 10 + 2);
  storeAt((this.thread.y * this.constants.W + this.thread.x) * 5 + 1, this.thread.y * 1000 + this.thread.x * 10 + 3);
  storeAt((this.thread.y * this.constants.W + this.thread.x) * 5, this.thread.y * 1000 + this.thread.x * 10 + 4);
  return -1;
}

(probe.ok ? test : test.skip)('webgpu: a kernel storing five values per thread fills its buffer; without SFLOATS scatterView refuses', async (t) => {
  const gpu = await getGpu('webgpu');
  const W = 7, H = 3;
  const k = gpu.createKernel(storeRun, { ...kernelSettings([W, H], { W, ...scatterFloats(5 * W * H) }, {}, { pipeline: true, immutable: true }), functions: scatterHelpers });
  const got = await readFlat(scatterView(await k() as GpuHandle, 5 * W * H));
  let bad = 0;
  for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) for (let j = 0; j < 5; j++) if (got[(y * W + x) * 5 + j] !== y * 1000 + x * 10 + (4 - j)) bad++;
  t.log(`${5 * W * H} values stored by ${W * H} threads, ${bad} wrong`);
  t.is(bad, 0);
  const unpatched = gpu.createKernel(storeRun, { ...kernelSettings([W, H], { W }, {}, { pipeline: true, immutable: true }), functions: scatterHelpers });
  const h = await unpatched() as GpuHandle;
  t.throws(() => scatterView(h, W * H), { message: /without scattered stores/ });
  h.delete();
});
