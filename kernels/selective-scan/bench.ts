// selective-scan — standalone forward benchmark: ms and ns per token over L = 2^lmin … 2^lmax at
// ED = 256, N = 16 (the model's shape), for one device: cpu (cpu.ts), webasm or webgpu (gpujs.ts).
// Not a test (correctness lives in test/kernels/selective-scan.test.ts) and not part of the kernel
// library: it is the one file in kernels/ that loads src/backend/gpu-runtime.js (dynamically, only
// for gpu.js devices), so as not to duplicate how gpu.js and dawn.node are loaded.
//
// Run: node dist/kernels/selective-scan/bench.js --device cpu|webasm|webgpu [--lmin 10] [--lmax 16]
//        [--ed 256] [--n 16] [--chunk 16] [--repeats 5] [--naive] [--json]
// webgpu: inputs are uploaded once per L as device handles (outside the clock); the clock stops
// after reading back hL (ED·N floats), which the queue orders after all of the scan's work.
// --naive adds the one-thread-per-(d, n) sequential gpu.js kernel (final state only) for comparison.
// For a real GPU use bench-device.ts (inputs generated on the device, two input sets, timestamp
// queries, --profile per stage, scheme/chunk/layout variants, correctness checks).
import { selectiveScan } from './cpu.js';
import { createSelectiveScanKernels, type GpuScanArgs, type GpuTensor } from './gpujs.js';
import { fill, timeMedian } from '../bench-util.js';

const argv = process.argv.slice(2);
const flag = (name: string) => argv.includes(`--${name}`);
const opt = (name: string, dflt: number): number => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? Number(argv[i + 1]) : dflt;
};
const device = (() => { const i = argv.indexOf('--device'); return i >= 0 ? argv[i + 1] : 'cpu'; })();
if (!['cpu', 'webasm', 'webgpu'].includes(device)) {
  console.error(`bench: --device must be cpu, webasm or webgpu (got ${device})`);
  process.exit(2);
}
const exp2 = (v: number) => (v <= 40 ? 2 ** v : v); // --lmax 16 and --lmax 65536 both mean 2^16
const lmin = exp2(opt('lmin', 10));
const lmax = exp2(opt('lmax', device === 'webgpu' ? 20 : 16));
const ED = opt('ed', 256), N = opt('n', 16), repeats = opt('repeats', 5);
const chunkOpt = argv.includes('--chunk') ? opt('chunk', 8) : undefined; // default: the scan's own

const median = (fn: () => Promise<void> | void) => timeMedian(fn, repeats);

interface Row { device: string; variant: string; L: number; ED: number; N: number; chunk: number; ms: number; cpuMs: number; nsPerToken: number }
const rows: Row[] = [];
const A = fill(ED * N, 3, 2, 0).map((x) => -Math.exp(x + 1.4)); // A = -exp(A_log), A_log ∈ [0.4, 2.4]
const D = fill(ED, 4), deltaBias = fill(ED, 5, 4, -2);

let gpu: any;
let shutdown = async () => {};
if (device !== 'cpu') {
  const rt = await import('../../src/backend/gpu-runtime.js');
  gpu = await rt.getGpu(device as 'webgpu' | 'webasm');
  shutdown = rt.shutdownGpu;
}

for (let L = lmin; L <= lmax; L *= 2) {
  const u = fill(L * ED, 1), deltaRaw = fill(L * ED, 2, 2, -1), z = fill(L * ED, 6);
  const BC = fill(L * 2 * N, 7, 2); // (L, 2N): B then C per token
  if (device === 'cpu') {
    const B = new Float32Array(L * N), C = new Float32Array(L * N);
    for (let t = 0; t < L; t++) { B.set(BC.subarray(t * 2 * N, t * 2 * N + N), t * N); C.set(BC.subarray(t * 2 * N + N, t * 2 * N + 2 * N), t * N); }
    const { ms, cpuMs } = await median(() => { selectiveScan({ L, ED, N, u, deltaRaw, A, B, C, D, z, deltaBias }); });
    rows.push({ device, variant: 'cpu.ts one pass', L, ED, N, chunk: 0, ms, cpuMs, nsPerToken: (ms * 1e6) / L });
    continue;
  }
  const k = createSelectiveScanKernels(gpu, { ED, N, chunk: chunkOpt });
  const chunk = k.chunk;
  const variants: Array<[string, boolean]> = [[`chunked (chunk ${chunk})`, false], ...(flag('naive') ? [['naive per (d, n), hL only', true] as [string, boolean]] : [])];
  for (const [variant, naive] of variants) {
    let ms: { ms: number; cpuMs: number };
    if (device === 'webasm') {
      ms = await median(async () => { await k.run({ L, ED, N, u, deltaRaw, A, BC, D, z, deltaBias }, { naive }); });
    } else {
      // device-resident: upload each segment once, then time only the kernels
      const id = new Map<number, any>();
      const up = (x: Float32Array): Promise<GpuTensor> => {
        let kk = id.get(x.length);
        if (!kk) id.set(x.length, (kk = gpu.createKernel(function (this: { thread: { x: number } }, v: number[]) { return v[this.thread.x]; }, { output: [x.length], pipeline: true, immutable: true })));
        return kk(x);
      };
      const S = k.segmentLength();
      const segs: GpuScanArgs[] = [];
      const shared = { A: await up(A), D: await up(D), deltaBias: await up(deltaBias) };
      for (let t0 = 0; t0 < L; t0 += S) {
        const t1 = Math.min(L, t0 + S);
        segs.push({ L: t1 - t0, ED, N, ...shared, u: await up(u.subarray(t0 * ED, t1 * ED)), deltaRaw: await up(deltaRaw.subarray(t0 * ED, t1 * ED)), z: await up(z.subarray(t0 * ED, t1 * ED)), BC: await up(BC.subarray(t0 * 2 * N, t1 * 2 * N)) });
      }
      const h0 = await up(new Float32Array(ED * N));
      ms = await median(async () => {
        let h: GpuTensor = h0;
        for (const s of segs) {
          const r = await k.run({ ...s, h0: h }, { naive });
          if (r.out) (r.out as { delete(): void }).delete();
          if (h !== h0) (h as { delete(): void }).delete();
          h = r.hL;
        }
        await (h as { toArray(): Promise<unknown> }).toArray();
        (h as { delete(): void }).delete();
      });
      for (const s of segs) for (const key of ['u', 'deltaRaw', 'z', 'BC'] as const) (s[key] as { delete(): void }).delete();
    }
    rows.push({ device, variant, L, ED, N, chunk: naive ? 0 : chunk, ...ms, nsPerToken: (ms.ms * 1e6) / L });
  }
  console.error(`L=${L} done`);
}
await shutdown();

if (flag('json')) console.log(JSON.stringify(rows, null, 1));
else {
  console.log(`| device | variant | L | ED | N | ms (median of ${repeats}) | process CPU ms | ns/token |`);
  console.log('|---|---|---:|---:|---:|---:|---:|---:|');
  for (const r of rows) console.log(`| ${r.device} | ${r.variant} | ${r.L} | ${r.ED} | ${r.N} | ${r.ms.toFixed(2)} | ${r.cpuMs.toFixed(0)} | ${r.nsPerToken.toFixed(0)} |`);
}
