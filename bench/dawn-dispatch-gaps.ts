// GPU time between dependent dispatches in dawn.node, by how they are recorded (issue 6). The training
// step's per-kernel timestamps (src/backend/gpujs/pass-timer.ts) showed the H100 idle 10–34 µs per
// kernel between gpu.js's compute passes; this asks whether that is the cost of gpu.js's structure (one
// command encoder, pass and command buffer per kernel call, submits batched by 64) or of dependent
// dispatches as such. A chain of N dispatches, each reading the previous one's output (so each must
// wait for the last), recorded three ways:
//   buffers   one encoder + pass + command buffer per dispatch, submitted 64 at a time (gpu.js + the batcher)
//   passes    one encoder, one pass per dispatch, one command buffer
//   one-pass  one encoder, one pass holding every dispatch
// Reports per variant the device time per dispatch (timestamp markers around the chain; median of
// --repeats) and the host time to record and submit it. Not a test.
//
// Run: node dist/bench/dawn-dispatch-gaps.js [--n 2000] [--elems 1048576] [--repeats 5]   (JSON on stdout)
import { deviceBench, TimestampMarks } from '../kernels/bench-util.js';

const argv = process.argv.slice(2);
const opt = (name: string, dflt: string) => (argv.includes(`--${name}`) ? argv[argv.indexOf(`--${name}`) + 1] : dflt);
const N = Number(opt('n', '2000')), E = Number(opt('elems', '1048576')), repeats = Number(opt('repeats', '5'));
const { rt, probe, gpu } = await deviceBench('dawn-dispatch-gaps', true);
const k = gpu.createKernel(function (this: { thread: { x: number } }) { return this.thread.x; }, { output: [64], pipeline: true });
const h = await k();
const device = (h as any).context.device;
const U = (globalThis as any).GPUBufferUsage;
const module = device.createShaderModule({ code: `
@group(0) @binding(0) var<storage, read> a : array<f32>;
@group(0) @binding(1) var<storage, read_write> b : array<f32>;
@compute @workgroup_size(256) fn main(@builtin(global_invocation_id) id : vec3<u32>) {
  let i = id.x + id.y * 65535u * 256u;
  if (i < arrayLength(&b)) { b[i] = a[i] * 0.5 + 1.0; }
}` });
const pipeline = device.createComputePipeline({ layout: 'auto', compute: { module, entryPoint: 'main' } });
const bufs = [0, 1].map(() => device.createBuffer({ size: E * 4, usage: U.STORAGE }));
const groups = [0, 1].map((i) => device.createBindGroup({ layout: pipeline.getBindGroupLayout(0), entries: [{ binding: 0, resource: { buffer: bufs[i] } }, { binding: 1, resource: { buffer: bufs[1 - i] } }] }));
const wg = Math.ceil(E / 256);
const dispatch = (pass: any, i: number) => {
  pass.setPipeline(pipeline);
  pass.setBindGroup(0, groups[i % 2]);
  pass.dispatchWorkgroups(Math.min(wg, 65535), Math.ceil(wg / 65535));
};
const variants: Record<string, () => void> = {
  buffers() {
    let held: unknown[] = [];
    for (let i = 0; i < N; i++) {
      const enc = device.createCommandEncoder();
      const pass = enc.beginComputePass();
      dispatch(pass, i);
      pass.end();
      held.push(enc.finish());
      if (held.length === 64) { device.queue.submit(held); held = []; }
    }
    if (held.length) device.queue.submit(held);
  },
  passes() {
    const enc = device.createCommandEncoder();
    for (let i = 0; i < N; i++) {
      const pass = enc.beginComputePass();
      dispatch(pass, i);
      pass.end();
    }
    device.queue.submit([enc.finish()]);
  },
  'one-pass'() {
    const enc = device.createCommandEncoder();
    const pass = enc.beginComputePass();
    for (let i = 0; i < N; i++) dispatch(pass, i);
    pass.end();
    device.queue.submit([enc.finish()]);
  },
};
const stamps = new TimestampMarks(device, 64);
const median = (a: number[]) => [...a].sort((x, y) => x - y)[a.length >> 1];
const rows: Array<{ variant: string; devUsPerDispatch: number | null; hostUsPerDispatch: number }> = [];
for (const [name, run] of Object.entries(variants)) run(); // warm-up
await device.queue.onSubmittedWorkDone();
for (const [name, run] of Object.entries(variants)) {
  const dev: number[] = [], host: number[] = [];
  for (let r = 0; r < repeats; r++) {
    await device.queue.onSubmittedWorkDone();
    stamps.mark();
    const t0 = performance.now();
    run();
    host.push(performance.now() - t0);
    stamps.mark();
    await device.queue.onSubmittedWorkDone();
    const ts = await stamps.read();
    if (ts.length === 2) dev.push((ts[1] - ts[0]) / 1e3);
  }
  rows.push({ variant: name, devUsPerDispatch: dev.length ? +(median(dev) / N).toFixed(2) : null, hostUsPerDispatch: +((median(host) * 1e3) / N).toFixed(2) });
  console.error(`${name}: device ${rows[rows.length - 1].devUsPerDispatch} µs, host ${rows[rows.length - 1].hostUsPerDispatch} µs per dispatch`);
}
h.delete();
await rt.shutdownGpu();
console.log(JSON.stringify({ adapter: probe.name, date: new Date().toISOString(), N, elems: E, repeats, rows }));
