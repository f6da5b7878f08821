// What one gpu.js kernel call costs on the host, piece by piece, in dawn.node (issue 6: short windows
// are bound by per-call host time). Times N repetitions of each WebGPU call gpu.js makes per kernel
// call — a 64-byte params writeBuffer, createBindGroup (gpu.js recreates it whenever an output or
// argument buffer changed, i.e. every call of an `immutable` kernel), encoder + compute pass +
// dispatch + finish, queue.submit — and a whole call both ways: one submit per dispatch (gpu.js) and
// N dispatches in one pass and one submit. Not a test.
//
// Run: node dist/bench/dawn-call-cost.js [--n 2000]     (prints JSON: µs per call)
import { getGpu, probeWebGpu, shutdownGpu } from '../src/backend/gpu-runtime.js';

const argv = process.argv.slice(2);
const N = argv.includes('--n') ? Number(argv[argv.indexOf('--n') + 1]) : 2000;
const probe = await probeWebGpu();
if (!probe.ok) {
  console.error(`dawn-call-cost: no WebGPU adapter: ${probe.reason}`);
  process.exit(4);
}
const gpu = await getGpu('webgpu');
const k = gpu.createKernel(function (this: { thread: { x: number } }) { return this.thread.x; }, { output: [64], pipeline: true });
const h = await k();
const device = (h as any).context.device;
const g = globalThis as any;
const U = g.GPUBufferUsage;
const module = device.createShaderModule({ code: `
@group(0) @binding(0) var<uniform> p : vec4<u32>;
@group(0) @binding(1) var<storage, read_write> o : array<f32>;
@compute @workgroup_size(64) fn main(@builtin(global_invocation_id) id : vec3<u32>) { if (id.x < p.x) { o[id.x] = f32(id.x); } }` });
const pipeline = device.createComputePipeline({ layout: 'auto', compute: { module, entryPoint: 'main' } });
const params = device.createBuffer({ size: 16, usage: U.UNIFORM | U.COPY_DST });
const outs = Array.from({ length: 8 }, () => device.createBuffer({ size: 4096 * 4, usage: U.STORAGE | U.COPY_SRC }));
const data = new Uint32Array([4096, 0, 0, 0]);
const bg = (i: number) => device.createBindGroup({ layout: pipeline.getBindGroupLayout(0), entries: [{ binding: 0, resource: { buffer: params } }, { binding: 1, resource: { buffer: outs[i % 8] } }] });
const bound = bg(0);
const encode = (group: unknown) => {
  const enc = device.createCommandEncoder();
  const pass = enc.beginComputePass();
  pass.setPipeline(pipeline);
  pass.setBindGroup(0, group);
  pass.dispatchWorkgroups(64);
  pass.end();
  return enc.finish();
};
async function time(f: (i: number) => void): Promise<number> {
  await device.queue.onSubmittedWorkDone();
  const t0 = performance.now();
  for (let i = 0; i < N; i++) f(i);
  await device.queue.onSubmittedWorkDone();
  return Math.round(((performance.now() - t0) * 1000) / N * 10) / 10;
}
const cbs: unknown[] = [];
const r: Record<string, number> = {};
for (let rep = 0; rep < 2; rep++) { // the second round is reported (the first warms Dawn's caches)
  r.writeBuffer = await time(() => device.queue.writeBuffer(params, 0, data));
  r.createBindGroup = await time((i) => bg(i));
  r.encodeFinish = await time(() => { cbs.push(encode(bound)); });
  r.submitOne = await time((i) => device.queue.submit([cbs[i]]));
  cbs.length = 0;
  r.wholeCallAsGpuJs = await time((i) => { device.queue.writeBuffer(params, 0, data); device.queue.submit([encode(bg(i))]); });
  r.wholeCallKeepBindGroup = await time(() => { device.queue.writeBuffer(params, 0, data); device.queue.submit([encode(bound)]); });
  r.oneSubmitPerCallNoWrite = await time(() => device.queue.submit([encode(bound)]));
  r.batchedDispatches = await time((i) => {
    if (i % 256 === 0) {
      const enc = device.createCommandEncoder();
      const pass = enc.beginComputePass();
      pass.setPipeline(pipeline);
      for (let j = 0; j < Math.min(256, N - i); j++) { pass.setBindGroup(0, bound); pass.dispatchWorkgroups(64); }
      pass.end();
      device.queue.submit([enc.finish()]);
    }
  });
  r.gpujsKernelCall = await time(() => { (k() as Promise<any>).then((x) => x.delete?.()); });
}
process.stdout.write(JSON.stringify({ adapter: probe.name, N, usPerCall: r }) + '\n');
h.delete();
await shutdownGpu();
