// GPU time per gpu.js kernel without waiting for the device between kernels (for benchmarks). A
// profile that waits for the queue after every kernel (the training engine's `profile`) serialises the
// GPU and charges each kernel its launch latency: at L = 2^17 it read 1.37 s for a 0.6 s step. This
// instead asks the device to write a timestamp at the start and end of every compute pass gpu.js
// begins (`timestampWrites`, WebGPU's 'timestamp-query' feature, which dawn.node exposes on the H100),
// and labels each pass with the kernel function gpu.js is running and a caller-set scope. The
// timestamps are resolved and read back once, at `stop()`. The patches are on GPUCommandEncoder and
// gpu.js's WebGPUKernel `_runInternal` (gpu.js 2.24.1: synchronous from its start through
// beginComputePass, so the label read there is the running kernel's); they act only while a timer
// is started and its device is the encoder's.

interface Device {
  features?: { has(f: string): boolean };
  createQuerySet(d: { type: 'timestamp'; count: number }): { destroy(): void };
  createBuffer(d: { size: number; usage: number }): { mapAsync(mode: number): Promise<void>; getMappedRange(): ArrayBuffer; unmap(): void; destroy(): void };
  createCommandEncoder(): { resolveQuerySet(q: unknown, first: number, count: number, dst: unknown, offset: number): void; copyBufferToBuffer(...a: unknown[]): void; finish(): unknown };
  queue: { submit(cbs: unknown[]): void; onSubmittedWorkDone(): Promise<void> };
}

/** Per label: summed pass ms and pass count; `span` is first begin to last end, `busy` the summed passes. */
export interface PassTimes {
  byLabel: Record<string, { ms: number; passes: number }>;
  spanMs: number;
  busyMs: number;
  passes: number;
}

export interface PassTimer {
  /** prefix of the labels of passes begun from now on (e.g. the op being run) */
  scope: string;
  start(): void;
  /** stops recording, waits for the device, reads the timestamps back */
  stop(): Promise<PassTimes>;
}

/**
 * A report of pass times for a benchmark's JSON: the `n` largest labels, and the same summed per scope
 * (the label before ': '; a label without a scope is its own), ms rounded to 0.01.
 */
export function summarizePassTimes(t: PassTimes, n = 40) {
  const byScope: PassTimes['byLabel'] = {};
  for (const [label, v] of Object.entries(t.byLabel)) {
    const r = (byScope[label.split(': ')[0]] ??= { ms: 0, passes: 0 });
    r.ms += v.ms;
    r.passes += v.passes;
  }
  const top = (o: PassTimes['byLabel']) => Object.fromEntries(Object.entries(o).sort((a, b) => b[1].ms - a[1].ms).slice(0, n)
    .map(([k, v]) => [k, { ms: Math.round(v.ms * 100) / 100, passes: v.passes }]));
  const r2 = (x: number) => Math.round(x * 100) / 100;
  return { spanMs: r2(t.spanMs), busyMs: r2(t.busyMs), passes: t.passes, byScope: top(byScope), byKernel: top(t.byLabel) };
}

const PASSES_PER_SET = 2048; // 4,096 queries: WebGPU's largest query set
const QUERY_RESOLVE = 0x200, COPY_SRC = 0x04, COPY_DST = 0x08, MAP_READ = 0x01;

let active: { device: Device; record(): { set: unknown; index: number } | null } | null = null;

/** Whether a timer runs (the submit batcher records no shared passes meanwhile: it times passes). */
export function timingPasses(): boolean {
  return active !== null;
}
let kernelName = '';
let patched = false;

function patch(WebGPUKernel: { prototype: Record<string, unknown> }): void {
  if (patched) return;
  const g = globalThis as unknown as { GPUCommandEncoder?: { prototype: Record<string, unknown> } };
  if (!g.GPUCommandEncoder) throw new Error('pass timer: no GPUCommandEncoder (WebGPU not set up)');
  patched = true;
  const begin = g.GPUCommandEncoder.prototype.beginComputePass as (this: unknown, d?: Record<string, unknown>) => unknown;
  g.GPUCommandEncoder.prototype.beginComputePass = function (this: unknown, desc: Record<string, unknown> = {}) {
    const slot = active && !desc.timestampWrites ? active.record() : null;
    if (!slot) return begin.call(this, desc);
    return begin.call(this, { ...desc, timestampWrites: { querySet: slot.set, beginningOfPassWriteIndex: 2 * slot.index, endOfPassWriteIndex: 2 * slot.index + 1 } });
  };
  const run = WebGPUKernel.prototype._runInternal as (this: { source?: unknown; _device?: unknown }, ...a: unknown[]) => unknown;
  WebGPUKernel.prototype._runInternal = function (this: { source?: unknown; _device?: unknown }, ...a: unknown[]) {
    if (active && this._device === active.device) {
      const m = /function\s*([\w$]*)/.exec(String(this.source ?? ''));
      kernelName = m?.[1] || 'kernel';
    }
    return run.apply(this, a);
  };
}

/**
 * A pass timer on `device` (which must have been created with 'timestamp-query'); `WebGPUKernel` is
 * gpu.js's class (src/backend/gpu-runtime.ts passes it). One timer may run at a time.
 */
export function createPassTimer(device: Device, WebGPUKernel: { prototype: Record<string, unknown> }): PassTimer {
  if (!device.features?.has('timestamp-query')) throw new Error("pass timer: the device lacks 'timestamp-query'");
  patch(WebGPUKernel);
  let sets: Array<{ destroy(): void }> = [];
  let labels: string[] = [];
  const timer: PassTimer = {
    scope: '',
    start() {
      if (active) throw new Error('pass timer: another timer is running');
      sets = [];
      labels = [];
      active = {
        device,
        record: () => {
          const i = labels.length;
          if (i % PASSES_PER_SET === 0) sets.push(device.createQuerySet({ type: 'timestamp', count: 2 * PASSES_PER_SET }));
          labels.push(timer.scope ? `${timer.scope}: ${kernelName}` : kernelName);
          return { set: sets[sets.length - 1], index: i % PASSES_PER_SET };
        },
      };
    },
    async stop() {
      active = null;
      const n = labels.length;
      const bytes = Math.max(8, 16 * n);
      const resolve = device.createBuffer({ size: bytes, usage: QUERY_RESOLVE | COPY_SRC });
      const read = device.createBuffer({ size: bytes, usage: MAP_READ | COPY_DST });
      const enc = device.createCommandEncoder();
      sets.forEach((set, s) => {
        const count = 2 * Math.min(PASSES_PER_SET, n - s * PASSES_PER_SET);
        enc.resolveQuerySet(set, 0, count, resolve, s * PASSES_PER_SET * 16);
      });
      enc.copyBufferToBuffer(resolve, 0, read, 0, bytes);
      device.queue.submit([enc.finish()]);
      await read.mapAsync(MAP_READ);
      const ts = new BigUint64Array(read.getMappedRange().slice(0));
      read.unmap();
      for (const b of [read, resolve, ...sets]) b.destroy();
      const byLabel: PassTimes['byLabel'] = {};
      let busy = 0, first = Infinity, last = -Infinity;
      for (let i = 0; i < n; i++) {
        const b = Number(ts[2 * i]), e = Number(ts[2 * i + 1]);
        const ms = Math.max(0, e - b) / 1e6;
        const r = (byLabel[labels[i]] ??= { ms: 0, passes: 0 });
        r.ms += ms;
        r.passes++;
        busy += ms;
        first = Math.min(first, b);
        last = Math.max(last, e);
      }
      return { byLabel, spanMs: n ? (last - first) / 1e6 : 0, busyMs: busy, passes: n };
    },
  };
  return timer;
}
