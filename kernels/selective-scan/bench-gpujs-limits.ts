// selective-scan — what a gpu.js kernel can reach on this device, to read the scan's stage profile
// against (issue 6): a scalar copy and a chain of 16 exps per thread, written once in gpu.js and once
// as hand-written WGSL on the same dawn.node device (workgroup 64 as gpu.js uses, and 256), timed
// per dispatch (median of 10, queue drained after each). Not a test, not part of the kernel library.
//
// Run: node dist/kernels/selective-scan/bench-gpujs-limits.js [--log2 26] [--json]
import { kernelSettings } from '../gpujs-types.js';

const argv = process.argv.slice(2);
const lg = argv.includes('--log2') ? Number(argv[argv.indexOf('--log2') + 1]) : 26;
if (!(lg >= 8 && lg <= 27)) { console.error('bench-gpujs-limits: --log2 must be 8 … 27 (2-D gpu.js grids stop at y = 524,280 rows of 256)'); process.exit(2); }
const n = 2 ** lg; // elements per tensor (2^26 = 256 MiB)
const rt = await import('../../src/backend/gpu-runtime.js');
const probe = await rt.probeWebGpu();
if (!probe.ok) { console.error(probe.reason); process.exit(4); }
const gpu = await rt.getGpu('webgpu');
const g = globalThis as any;
const median = (a: number[]) => [...a].sort((x, y) => x - y)[a.length >> 1];

type Th = { thread: { x: number; y: number } };
const fillK = gpu.createKernel(function (this: Th) { return (this.thread.y % 7) * 0.125 + this.thread.x * 0.001; }, { output: [256, n / 256], pipeline: true, immutable: true });
const src = await fillK();
const device = src.context.device;
const sync = () => device.queue.onSubmittedWorkDone();

async function time(fn: () => unknown): Promise<number> {
  await fn(); await sync();
  const ts: number[] = [];
  for (let r = 0; r < 10; r++) {
    const t0 = performance.now();
    await fn();
    await sync();
    ts.push(performance.now() - t0);
  }
  return median(ts);
}
const rows: Array<{ kernel: string; ms: number; GBps?: number; Gexps?: number }> = [];
const report = (kernel: string, ms: number, bytes: number, exps: number) => {
  rows.push({ kernel, ms, ...(bytes ? { GBps: bytes / ms / 1e6 } : {}), ...(exps ? { Gexps: exps / ms / 1e6 } : {}) });
  console.error(`${kernel}: ${ms.toFixed(3)} ms${bytes ? `, ${(bytes / ms / 1e6).toFixed(0)} GB/s` : ''}${exps ? `, ${(exps / ms / 1e6).toFixed(0)} G exp/s` : ''}`);
};

// gpu.js
const copy2 = gpu.createKernel(function (this: Th, v: number[]) { return v[this.thread.y * 256 + this.thread.x]; }, { ...kernelSettings([256, n / 256], {}), pipeline: true });
report('gpu.js copy, 2-D grid [256, n/256] (workgroup 8×8)', await time(() => copy2(src)), 8 * n, 0);
const copy1 = gpu.createKernel(function (this: { thread: { x: number } }, v: number[]) { return v[this.thread.x]; }, { output: [n], pipeline: true });
report('gpu.js copy, 1-D grid [n] (workgroup 64)', await time(() => copy1(src)), 8 * n, 0);
const exp16 = gpu.createKernel(function (this: Th, v: number[]) {
  let s = v[this.thread.y * 256 + this.thread.x];
  for (let k = 0; k < 16; k++) s = Math.exp(s * 0.5 - 1);
  return s;
}, { ...kernelSettings([256, n / 256], {}), pipeline: true });
report('gpu.js 16 dependent exps per thread, 2-D', await time(() => exp16(src)), 8 * n, 16 * n);

// hand-written WGSL on the same device
function wgsl(wg: number, body: string) {
  const code = `@group(0) @binding(0) var<storage, read> a : array<f32>;
@group(0) @binding(1) var<storage, read_write> b : array<f32>;
@compute @workgroup_size(${wg}) fn main(@builtin(global_invocation_id) gid : vec3<u32>, @builtin(num_workgroups) nw : vec3<u32>) {
  let i = gid.x + gid.y * nw.x * ${wg}u;
  if (i >= ${n}u) { return; }
  ${body}
}`;
  const pipe = device.createComputePipeline({ layout: 'auto', compute: { module: device.createShaderModule({ code }), entryPoint: 'main' } });
  const out = device.createBuffer({ size: 4 * n, usage: g.GPUBufferUsage.STORAGE });
  const bg = device.createBindGroup({ layout: pipe.getBindGroupLayout(0), entries: [{ binding: 0, resource: { buffer: src.buffer } }, { binding: 1, resource: { buffer: out } }] });
  const groups = n / wg, gx = Math.min(groups, 32768), gy = groups / gx;
  return () => {
    const enc = device.createCommandEncoder();
    const p = enc.beginComputePass();
    p.setPipeline(pipe); p.setBindGroup(0, bg); p.dispatchWorkgroups(gx, gy); p.end();
    device.queue.submit([enc.finish()]);
  };
}
for (const wg of [64, 256]) report(`WGSL copy, workgroup ${wg}`, await time(wgsl(wg, 'b[i] = a[i];')), 8 * n, 0);
report('WGSL 16 dependent exps, workgroup 64', await time(wgsl(64, 'var s = a[i]; for (var k = 0; k < 16; k++) { s = exp(s * 0.5 - 1.0); } b[i] = s;')), 8 * n, 16 * n);
// the empty-dispatch floor: launch + drain
report('WGSL empty dispatch of 64 threads (launch + queue drain)', await time(() => { const enc = device.createCommandEncoder(); device.queue.submit([enc.finish()]); }), 0, 0);
await rt.shutdownGpu();
if (argv.includes('--json')) console.log(JSON.stringify({ adapter: probe.name, n, rows }, null, 1));
