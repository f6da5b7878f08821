// selective-scan — forward vs backward on device handles (gpujs.ts `run`, gpujs-backward.ts `runDevice`)
// at ED 256, N 16, B 1: the ratio issue 6 asks for (backward within 2.5× of forward; mamba_ssm 2.7×).
// Not a test. Inputs are generated on the device; sequences longer than one backward call are cut into
// segments of S tokens (forward first to last carrying hL, backward last to first carrying dh), as the
// training engine does. Clock stops after queue.onSubmittedWorkDone(); median of --repeats after a warm-up.
// Run: node dist/kernels/selective-scan/bench-backward.js [--lmin 12] [--lmax 20] [--seg 65536] [--repeats 5]
import { createSelectiveScanKernels } from './gpujs.js';
import { createSelectiveScanBackwardKernels } from './gpujs-backward.js';
import { kernelSettings } from '../gpujs-types.js';

const argv = process.argv.slice(2);
const opt = (name: string, dflt: number) => (argv.includes(`--${name}`) ? Number(argv[argv.indexOf(`--${name}`) + 1]) : dflt);
const lmin = opt('lmin', 12), lmax = opt('lmax', 20), repeats = opt('repeats', 5);
const ED = 256, N = 16;
const rt = await import('../../src/backend/gpu-runtime.js');
const probe = await rt.probeWebGpu();
if (!probe.ok) {
  console.error(`bench-backward: no WebGPU adapter: ${probe.reason}`);
  process.exit(4);
}
const gpu = await rt.getGpu('webgpu');
const maxBindingBytes = probe.limits!.maxStorageBufferBindingSize;
const fwd = createSelectiveScanKernels(gpu, { ED, N, maxBindingBytes });
const bwd = createSelectiveScanBackwardKernels(gpu, { ED, N, maxBindingBytes });
const seg = Math.min(opt('seg', 65536), 2 ** Math.floor(Math.log2(Math.min(bwd.maxLength, fwd.segmentLength(2 * N)))));

type Th = { thread: { x: number }; constants: { seed: number; scale: number; shift: number } };
function genKernel(this: Th): number {
  const v = Math.sin(this.thread.x * 12.9898 + this.constants.seed) * 43758.5453;
  return this.constants.shift + this.constants.scale * (v - Math.floor(v) - 0.5);
}
const gen = (n: number, seed: number, scale: number, shift: number) =>
  gpu.createKernel(genKernel, { ...kernelSettings([n], {}, { seed, scale, shift }), pipeline: true, immutable: true })() as Promise<any>;

const rows: unknown[] = [];
for (let L = 2 ** lmin; L <= 2 ** lmax; L *= 2) {
  const S = Math.min(L, seg);
  const nSeg = L / S;
  const u = await gen(S * ED, 1, 2, 0), raw = await gen(S * ED, 2, 2, -1), z = await gen(S * ED, 3, 2, 0), BC = await gen(S * 2 * N, 4, 2, 0);
  const A = await gen(ED * N, 5, 4, -3), D = await gen(ED, 6, 1, 0), bias = await gen(ED, 7, 1, -2), h0 = await gen(ED * N, 8, 0, 0);
  const dOut = await gen(S * ED, 9, 2, 0), dhL = await gen(ED * N, 10, 0, 0);
  const device = u.context.device;
  const args = { L: S, ED, N, u, deltaRaw: raw, z, BC, bcStride: 2 * N, bOffset: 0, cOffset: N, A, D, deltaBias: bias, h0 };
  const forward = async () => {
    for (let s = 0; s < nSeg; s++) {
      const r = await fwd.run(args);
      (r.out as any).delete();
      (r.hL as any).delete();
    }
  };
  const backward = async () => {
    for (let s = 0; s < nSeg; s++) {
      const g = await bwd.runDevice(args, dOut, dhL);
      for (const h of Object.values(g)) (h as any).delete();
    }
  };
  const time = async (f: () => Promise<void>) => {
    await f();
    await device.queue.onSubmittedWorkDone();
    const ts: number[] = [];
    for (let r = 0; r < repeats; r++) {
      const t0 = performance.now();
      await f();
      await device.queue.onSubmittedWorkDone();
      ts.push(performance.now() - t0);
    }
    ts.sort((a, b) => a - b);
    return ts[ts.length >> 1];
  };
  const fMs = await time(forward), bMs = await time(backward);
  const row = { L, segment: S, forwardMs: +fMs.toFixed(2), backwardMs: +bMs.toFixed(2), ratio: +(bMs / fMs).toFixed(2) };
  rows.push(row);
  console.error(JSON.stringify(row));
  for (const h of [u, raw, z, BC, A, D, bias, h0, dOut, dhL]) h.delete();
}
process.stdout.write(JSON.stringify({ device: probe.name, ED, N, rows }) + '\n');
await rt.shutdownGpu();
