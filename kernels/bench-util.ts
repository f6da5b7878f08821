// bench-util — the shared driver of the elementwise/small-op kernel benches (kernels/<op>/bench.ts):
// argument parsing, deterministic inputs, warm-up + median of repeats, gpu.js device handling and
// the markdown/JSON table. Not a test and not part of the kernel library (nothing in src/ imports it).
// Like kernels/selective-scan/bench.ts it loads src/backend/gpu-runtime.js — dynamically, and only for
// the gpu.js devices — so that gpu.js and dawn.node are loaded in one place; that is the known
// exception to "kernels/ imports nothing from src/".
//
// Devices: ref (float64 ref.ts), cpu (float32 cpu.ts), webasm and webgpu (gpujs.ts through gpu.js).
// webasm: kernels called on Float32Arrays; the clock includes gpu.js's copy of the result to JS arrays.
// webgpu: the kernels are built with `pipeline: true`, inputs are uploaded once as device handles
// (outside the clock) and two things are timed: "resident" (calls on handles, then wait for the
// queue to drain: onSubmittedWorkDone) and "+ read back" (the same, then toArray() of every output).
// Pipeline calls resolve at submit, so without one of those waits the clock would stop early.
//
// Common options: --device all|ref,cpu,webasm,webgpu  --L <tokens> (default 4096)  --repeats <n>
//   --json (rows as JSON instead of a markdown table). Op-specific options via `opt()`.
import type { GpuJsLike } from './gpujs-types.js';

export type BenchDevice = 'ref' | 'cpu' | 'webasm' | 'webgpu';
const DEVICES: readonly BenchDevice[] = ['ref', 'cpu', 'webasm', 'webgpu'];

export interface BenchArgs {
  devices: BenchDevice[];
  L: number;
  repeats: number;
  json: boolean;
  /** a numeric option `--name value`, or its default */
  opt(name: string, dflt: number): number;
}

export function parseBenchArgs(usage: string): BenchArgs {
  const argv = process.argv.slice(2);
  const fail = (why: string): never => {
    console.error(`bench: ${why}\nusage: ${usage}`);
    process.exit(2);
  };
  const raw = (name: string): string | undefined => {
    const i = argv.indexOf(`--${name}`);
    if (i < 0) return undefined;
    if (i + 1 >= argv.length) fail(`--${name} needs a value`);
    return argv[i + 1];
  };
  const opt = (name: string, dflt: number): number => {
    const v = raw(name);
    if (v === undefined) return dflt;
    const n = Number(v);
    if (!Number.isInteger(n) || n < 1) fail(`--${name} must be a positive integer (got ${v})`);
    return n;
  };
  if (argv.includes('--help') || argv.includes('-h')) {
    console.log(`usage: ${usage}`);
    process.exit(0);
  }
  const d = raw('device') ?? 'all';
  const devices = d === 'all' ? [...DEVICES] : d.split(',') as BenchDevice[];
  for (const x of devices) if (!DEVICES.includes(x)) fail(`--device must be all or a comma list of ${DEVICES.join(', ')} (got ${x})`);
  return { devices, L: opt('L', 4096), repeats: opt('repeats', 9), json: argv.includes('--json'), opt };
}

/** Deterministic inputs without a PRNG dependency: a cheap integer hash into shift + scale·[-0.5, 0.5). */
export function fill(n: number, seed: number, scale = 1, shift = 0): Float32Array {
  const a = new Float32Array(n);
  let x = seed >>> 0;
  for (let i = 0; i < n; i++) {
    x = (Math.imul(x ^ (x >>> 15), 0x2c1b3c6d) + 0x297a2d39) >>> 0;
    a[i] = shift + scale * (x / 4294967296 - 0.5);
  }
  return a;
}

/** Median wall seconds of `reps` synchronous runs after one warm-up call. */
export function medianSeconds(fn: () => void, reps: number): number {
  fn();
  const ts: number[] = [];
  for (let r = 0; r < reps; r++) {
    const t0 = performance.now();
    fn();
    ts.push(performance.now() - t0);
  }
  return ts.sort((a, b) => a - b)[reps >> 1] / 1e3;
}

export interface Timing { ms: number; cpuMs: number }

/** Median wall ms of `repeats` runs after one warm-up call (compilation, caches, first touch), and the
 *  median process CPU ms (user + system, all threads): on a shared machine it shows what a run cost
 *  when wall time is inflated by neighbours (lavapipe runs on CPU threads of its own). */
export async function timeMedian(fn: () => unknown, repeats: number): Promise<Timing> {
  await fn();
  const ts: number[] = [], cs: number[] = [];
  for (let r = 0; r < repeats; r++) {
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    await fn();
    ts.push(performance.now() - t0);
    const c = process.cpuUsage(c0);
    cs.push((c.user + c.system) / 1e3);
  }
  const mid = (a: number[]) => a.sort((x, y) => x - y)[a.length >> 1];
  return { ms: mid(ts), cpuMs: mid(cs) };
}

/** One gpu.js kernel call of a pass: the kernel and its array arguments (host arrays; the driver
 *  swaps in device handles for webgpu). */
export type GpuCall = [kernel: (...args: unknown[]) => unknown, args: Float32Array[]];

export interface OpBench {
  op: string;
  /** e.g. 'L=4096 ED=256' */
  shape: string;
  /** tokens per call, for ns/token */
  tokens: number;
  /** pass name → a float64 reference call */
  ref: Record<string, () => unknown>;
  /** pass name → a float32 cpu.ts call (outputs preallocated where the API allows) */
  cpu: Record<string, () => unknown>;
  /** builds the gpu.js kernels (opts carries pipeline) and returns pass name → the calls of that pass;
   *  a pass missing here has no gpu.js kernel (a row says so) */
  gpu: (gpu: GpuJsLike, opts: { pipeline: boolean }) => Record<string, GpuCall[]>;
}

export interface BenchRow {
  op: string; pass: string; device: BenchDevice; variant: string; shape: string;
  ms: number | null; cpuMs: number | null; nsPerToken: number | null; note?: string;
}

interface Runtime {
  getGpu(mode: 'webgpu' | 'webasm'): Promise<GpuJsLike>;
  probeWebGpu(): Promise<{ ok: boolean; reason?: string; name?: string }>;
  shutdownGpu(): Promise<void>;
}

async function loadRuntime(): Promise<Runtime> {
  // the known exception (see header): the one place that knows how to load gpu.js and dawn.node
  return (await import('../src/backend/gpu-runtime.js')) as unknown as Runtime;
}

type Handle = { toArray(): unknown; delete(): void; context?: { device?: { queue?: { onSubmittedWorkDone(): Promise<void> } } } };

/** Runs one op on every requested device and prints the table (or JSON). Skipped devices print why. */
export async function runOpBench(b: OpBench, args: BenchArgs): Promise<BenchRow[]> {
  const rows: BenchRow[] = [];
  const per = (t: Timing) => ({ ms: t.ms, cpuMs: t.cpuMs, nsPerToken: (t.ms * 1e6) / b.tokens });
  const skip = (device: BenchDevice, pass: string, note: string) =>
    rows.push({ op: b.op, pass, device, variant: '—', shape: b.shape, ms: null, cpuMs: null, nsPerToken: null, note });
  const passes = Object.keys(b.cpu);
  let rt: Runtime | undefined;
  for (const device of args.devices) {
    if (device === 'ref' || device === 'cpu') {
      const fns = device === 'ref' ? b.ref : b.cpu;
      const variant = device === 'ref' ? 'ref.ts float64' : 'cpu.ts float32';
      for (const pass of passes) rows.push({ op: b.op, pass, device, variant, shape: b.shape, ...per(await timeMedian(fns[pass], args.repeats)) });
      continue;
    }
    rt ??= await loadRuntime();
    if (device === 'webgpu') {
      const probe = await rt.probeWebGpu();
      if (!probe.ok) {
        console.error(`bench ${b.op}: webgpu skipped: ${probe.reason}`);
        for (const pass of passes) skip(device, pass, `skipped: ${probe.reason}`);
        continue;
      }
      console.error(`bench ${b.op}: webgpu adapter ${probe.name}`);
    }
    let gpu: GpuJsLike;
    try {
      gpu = await rt.getGpu(device);
    } catch (err) {
      console.error(`bench ${b.op}: ${device} skipped: ${(err as Error).message}`);
      for (const pass of passes) skip(device, pass, `skipped: ${(err as Error).message}`);
      continue;
    }
    const calls = b.gpu(gpu, { pipeline: device === 'webgpu' });
    for (const pass of passes) {
      const list = calls[pass];
      if (!list) { skip(device, pass, 'no gpu.js kernel for this pass'); continue; }
      if (device === 'webasm') {
        const t = await timeMedian(async () => { for (const [k, a] of list) await k(...a); }, args.repeats);
        rows.push({ op: b.op, pass, device, variant: 'gpu.js webasm', shape: b.shape, ...per(t) });
        continue;
      }
      // webgpu: upload each distinct input once (an identity kernel with pipeline + immutable)
      const handles = new Map<Float32Array, Handle>();
      const uploaders = new Map<number, (v: Float32Array) => unknown>();
      for (const [, a] of list) {
        for (const x of a) {
          if (handles.has(x)) continue;
          let up = uploaders.get(x.length);
          if (!up) {
            up = gpu.createKernel(function (this: { thread: { x: number } }, v: number[]) { return v[this.thread.x]; },
              { output: [x.length], pipeline: true, immutable: true });
            uploaders.set(x.length, up!);
          }
          handles.set(x, (await up!(x)) as Handle);
        }
      }
      const resident = list.map(([k, a]) => [k, a.map((x) => handles.get(x)!)] as const);
      let queue: { onSubmittedWorkDone(): Promise<void> } | undefined;
      const runAll = async (): Promise<Handle[]> => {
        const outs: Handle[] = [];
        for (const [k, a] of resident) outs.push((await k(...a)) as Handle);
        return outs;
      };
      queue = (await runAll())[0]?.context?.device?.queue;
      if (queue) {
        const q = queue;
        const t = await timeMedian(async () => { await runAll(); await q.onSubmittedWorkDone(); }, args.repeats);
        rows.push({ op: b.op, pass, device, variant: 'gpu.js webgpu, resident', shape: b.shape, ...per(t) });
      }
      const t = await timeMedian(async () => { for (const h of await runAll()) await h.toArray(); }, args.repeats);
      rows.push({ op: b.op, pass, device, variant: 'gpu.js webgpu, + read back', shape: b.shape, ...per(t) });
      for (const h of handles.values()) h.delete();
    }
  }
  if (rt) await rt.shutdownGpu();
  printRows(rows, args);
  return rows;
}

export function printRows(rows: BenchRow[], args: BenchArgs): void {
  if (args.json) { console.log(JSON.stringify(rows, null, 1)); return; }
  const f = (v: number | null, d: number) => (v === null ? '—' : v.toFixed(d));
  console.log(`| op | pass | device | variant | shape | ms (median of ${args.repeats}) | process CPU ms | ns/token |`);
  console.log('|---|---|---|---|---|---:|---:|---:|');
  for (const r of rows) {
    console.log(`| ${r.op} | ${r.pass} | ${r.device} | ${r.note ?? r.variant} | ${r.shape} | ${f(r.ms, 3)} | ${f(r.cpuMs, 1)} | ${f(r.nsPerToken, 1)} |`);
  }
}

/**
 * Timestamp markers for device benches (issue 6): an empty compute pass that writes a timestamp when
 * the GPU reaches it, submitted between kernel calls, so device time between two marks can be read.
 * Dawn quantises timestamps (65.5 µs on the H100) and a marker pass is not a barrier: per-stage times
 * are approximate, totals match wall time. Inert (qs null) where the device lacks 'timestamp-query'.
 */
export class TimestampMarks {
  readonly qs: any;
  private readonly res: any;
  private readonly rd: any;
  private n = 0;
  constructor(private readonly device: any, private readonly capacity = 4096) {
    const g = globalThis as any;
    const has = device.features?.has?.('timestamp-query') === true;
    this.qs = has ? device.createQuerySet({ type: 'timestamp', count: capacity }) : null;
    this.res = has ? device.createBuffer({ size: capacity * 8, usage: g.GPUBufferUsage.QUERY_RESOLVE | g.GPUBufferUsage.COPY_SRC }) : null;
    this.rd = has ? device.createBuffer({ size: capacity * 8, usage: g.GPUBufferUsage.COPY_DST | g.GPUBufferUsage.MAP_READ }) : null;
  }
  mark(): void {
    if (!this.qs || this.n >= this.capacity) return;
    const enc = this.device.createCommandEncoder();
    enc.beginComputePass({ timestampWrites: { querySet: this.qs, beginningOfPassWriteIndex: this.n++ } }).end();
    this.device.queue.submit([enc.finish()]);
  }
  /** Nanoseconds of every mark since the last read. */
  async read(): Promise<number[]> {
    if (!this.qs || this.n === 0) return [];
    const g = globalThis as any;
    const enc = this.device.createCommandEncoder();
    enc.resolveQuerySet(this.qs, 0, this.n, this.res, 0);
    enc.copyBufferToBuffer(this.res, 0, this.rd, 0, this.n * 8);
    this.device.queue.submit([enc.finish()]);
    await this.rd.mapAsync(g.GPUMapMode.READ, 0, this.n * 8);
    const v = Array.from(new BigInt64Array(this.rd.getMappedRange(0, this.n * 8).slice(0)), Number);
    this.rd.unmap();
    this.n = 0;
    return v;
  }
}

/**
 * Per-stage times of one profiled call: `await begin()`, run the call with `onStage` as its profile hook
 * (awaited after each stage with the stage's name), then `await end()` → ms per stage. With `wall`, a
 * queue sync after every stage and the wall clock between them (serialises the GPU); otherwise the
 * device time between timestamp marks (stamps.qs must exist).
 */
export function stageTimer(stamps: TimestampMarks, wall: boolean, sync: () => Promise<void>) {
  const names: string[] = [];
  const acc: Record<string, number> = {};
  let last = 0;
  return {
    async begin(): Promise<void> {
      await sync();
      last = performance.now();
      if (!wall) stamps.mark();
    },
    async onStage(stage: string): Promise<void> {
      names.push(stage);
      if (wall) {
        await sync();
        const now = performance.now();
        acc[stage] = (acc[stage] ?? 0) + now - last;
        last = now;
      } else stamps.mark();
    },
    async end(): Promise<Record<string, number>> {
      await sync();
      if (!wall) {
        const ts = await stamps.read();
        names.forEach((nm, i) => { acc[nm] = (acc[nm] ?? 0) + (ts[i + 1] - ts[i]) / 1e6; });
      }
      return acc;
    },
  };
}

/**
 * The start of every device bench (webgpu only): loads src/backend/gpu-runtime.js (see the header),
 * exits 4 with one line naming `name` where no WebGPU adapter answers, asks for 'timestamp-query' where
 * the adapter has it (`timestamps`; gpu.js creates its device without features; Dawn's rounding of
 * timestamps to 65.5 µs turned off), applies `--wg WxH,F`
 * (gpu.js's own workgroup sizes are 8x8,64; the default is src/backend/gpujs/workgroup-size.ts's), and
 * returns the gpu.js instance with the probe report.
 */
export async function deviceBench(name: string, timestamps: boolean) {
  const rt = await import('../src/backend/gpu-runtime.js');
  // --dawn 'enable-dawn-features=a,b': dawn.node options (measurements of Dawn toggles)
  const flags = process.argv.includes('--dawn') ? [process.argv[process.argv.indexOf('--dawn') + 1]] : [];
  // timestamps to the nanosecond: Dawn rounds them down to 2^16 ns (65.5 µs) unless its
  // timestamp_quantization toggle is off (a guard against timing attacks, not needed here)
  if (timestamps && !flags.some((f) => f.includes('timestamp_quantization'))) {
    const i = flags.findIndex((f) => f.startsWith('disable-dawn-features='));
    if (i >= 0) flags[i] += ',timestamp_quantization';
    else flags.push('disable-dawn-features=timestamp_quantization');
  }
  rt.setDawnFlags(flags);
  const probe = await rt.probeWebGpu();
  if (!probe.ok) {
    console.error(`${name}: no WebGPU adapter: ${probe.reason}`);
    process.exit(4);
  }
  if (timestamps) {
    const proto = (globalThis as any).GPUAdapter.prototype;
    const requestDevice = proto.requestDevice;
    proto.requestDevice = function (this: any, desc: any = {}) {
      const f = this.features?.has?.('timestamp-query') ? ['timestamp-query'] : [];
      return requestDevice.call(this, { ...desc, requiredFeatures: [...(desc.requiredFeatures ?? []), ...f] });
    };
  }
  const argv = process.argv;
  if (argv.includes('--wg')) {
    const w = argv[argv.indexOf('--wg') + 1].split(/[x,]/).map(Number);
    rt.setWorkgroupSizes({ wide: [w[0], w[1]], flat: w[2] });
  }
  return { rt, probe, gpu: await rt.getGpu('webgpu') };
}
