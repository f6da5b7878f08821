// Batched queue submits for gpu.js kernels on one WebGPU device. gpu.js submits one command buffer per
// kernel call, and a queue.submit cost ≈ 19 µs of host time in dawn.node on the H100 (bench/dawn-call-cost.ts)
// — a third of a call once bind groups are cached. The device's queue is patched so that submit()
// collects command buffers and hands them to the real submit in batches (every `maxPending`, and
// whenever order could otherwise be observed):
//   - queue.writeBuffer runs on the queue timeline at once, i.e. before command buffers still held
//     back: a write to a buffer already written since the batch began (a kernel's params or argument
//     buffer, written again by its next call) first submits the batch;
//   - before any mapAsync (a readback), onSubmittedWorkDone and any real buffer destroy, the batch is
//     submitted (GPUBuffer.prototype is patched once for all devices; the buffer pool's recycled
//     buffers are never destroyed for real while in use);
//   - and when the caller yields to the event loop (setImmediate), so nothing waits for a next call.
// A small write (≤ 256 bytes from offset 0: gpu.js rewrites every kernel's params uniform on every call,
// the same bytes whenever the shapes are the same) whose bytes equal what was last written to that buffer
// is dropped: the buffer already holds them for every later command, and nothing else writes those
// buffers (uniform and argument buffers, COPY_DST only). It still counts as written for the flush rule
// above: the held call reads those bytes, so a later write of other bytes submits it first. Without the
// drop, a kernel's second call in a batch forced a submit: one write per call and a submit per ≈ 19 calls
// in a training step (counted on the 2-core machine; ≈ 90 and ≈ 56 calls with it).
// Each gpu.js call writes its buffers and then submits, so every held-back command buffer's writes
// happened in the current batch and are tracked. With `sharePasses` the held-back calls are not
// command buffers of their own but dispatches recorded into one shared encoder and pass (see
// installSubmitBatcher); the flush rules are the same. Relies on gpu.js 2.24.1's order in _runInternal
// (writeBuffer of arguments and params, then one submit) and readBufferResult (submit, then mapAsync).

import { timingPasses } from './pass-timer.js';

interface Queue {
  submit(cbs: unknown[]): void;
  writeBuffer(buffer: object, ...rest: unknown[]): void;
  onSubmittedWorkDone(): Promise<void>;
}

export interface SubmitBatcher {
  /** record kernel calls into one shared encoder and pass (see installSubmitBatcher); default false */
  sharePasses: boolean;
  /** command buffers submitted through the batcher */
  readonly commandBuffers: number;
  /** real queue.submit calls made */
  readonly submits: number;
  /** small writes dropped because the buffer already held those bytes */
  readonly skippedWrites: number;
  /** drop small writes of the bytes a buffer already holds (default true; false for benchmarks) */
  dedupeWrites: boolean;
  /** submits what is held back now */
  flush(): void;
}

const batchers = new WeakMap<object, SubmitBatcher>();
const flushers = new Set<() => void>();
let prototypesPatched = false;

function patchBufferPrototype(): void {
  if (prototypesPatched) return;
  const proto = (globalThis as unknown as { GPUBuffer?: { prototype: Record<string, unknown> } }).GPUBuffer?.prototype;
  if (!proto) return;
  prototypesPatched = true;
  const mapAsync = proto.mapAsync as (...a: unknown[]) => Promise<void>;
  const destroy = proto.destroy as (...a: unknown[]) => void;
  proto.mapAsync = function (this: unknown, ...a: unknown[]) {
    for (const f of flushers) f();
    return mapAsync.apply(this, a);
  };
  proto.destroy = function (this: unknown, ...a: unknown[]) {
    for (const f of flushers) f();
    return destroy.apply(this, a);
  };
}

/** A real command encoder and compute pass, as far as the shared recording uses them. */
interface Encoder {
  beginComputePass(desc?: object): Pass;
  finish(): unknown;
  [method: string]: unknown;
}
interface Pass { setPipeline(p: unknown): void; setBindGroup(...a: unknown[]): void; dispatchWorkgroups(...a: unknown[]): void; end(): void }

/** What a shared-recording encoder's finish() returns: its commands are already in the shared encoder. */
const RECORDED = Object.freeze({ recorded: true });

/**
 * With `sharePasses` set: also record every kernel call into one shared command encoder and, while nothing
 * else intervenes, one compute pass (device.createCommandEncoder is patched to hand out stand-ins whose
 * passes forward to the shared one and whose finish() returns a token); a flush ends the pass and
 * submits the encoder. WebGPU makes each dispatch of a pass its own usage scope, so Dawn still orders
 * dependent dispatches. Passes with a descriptor (timestamp writes) and every other encoder command
 * (copies for readbacks, query resolves) end the shared pass and go to the shared encoder in order.
 * On the H100 (bench/dawn-dispatch-gaps.ts) a chain of small dependent dispatches cost 10.5 µs of host
 * and 10.6 µs of device time each as one command buffer per dispatch, 3.7 and 5.9 in one pass.
 */
export function installSubmitBatcher(device: { queue: Queue; createCommandEncoder?: () => Encoder }, maxPending = 64): SubmitBatcher {
  const existing = batchers.get(device);
  if (existing) return existing;
  const queue = device.queue;
  const submit = queue.submit.bind(queue);
  const writeBuffer = queue.writeBuffer.bind(queue);
  const done = queue.onSubmittedWorkDone.bind(queue);
  let pending: unknown[] = [];
  let written = new Set<object>(); // written since the oldest held-back command buffer was recorded
  let sinceSubmit = new Set<object>(); // written for the command buffer not submitted yet
  let commandBuffers = 0;
  let submits = 0;
  let scheduled = false;
  // sharePasses: the shared encoder and its open pass
  let shared: Encoder | null = null;
  let pass: Pass | null = null;
  const closePass = () => {
    pass?.end();
    pass = null;
  };
  let recorded = 0; // calls recorded into the shared encoder since the last flush
  const flush = () => {
    written = new Set(sinceSubmit);
    const p = pending;
    pending = [];
    if (shared) {
      closePass();
      p.push(shared.finish());
      shared = null;
    }
    recorded = 0;
    if (p.length === 0) return;
    submits++;
    submit(p);
  };
  let sharePasses = false;
  if (device.createCommandEncoder) {
    const create = device.createCommandEncoder.bind(device);
    const encoder = () => (shared ??= create());
    const passStandIn: Pass = {
      setPipeline: (p) => pass!.setPipeline(p),
      setBindGroup: (...a) => pass!.setBindGroup(...a),
      dispatchWorkgroups: (...a) => pass!.dispatchWorkgroups(...a),
      end: () => {},
    };
    // a real encoder while sharing is off: its command buffer, submitted after what the shared
    // encoder holds, flushes that first (queue.submit below)
    device.createCommandEncoder = () => (!sharePasses || timingPasses() ? create() : new Proxy({} as Encoder, {
      get(_, method: string) {
        if (method === 'finish') return () => RECORDED;
        if (method === 'beginComputePass') {
          return (desc?: object) => {
            if (desc && Object.keys(desc).length > 0) {
              closePass();
              return encoder().beginComputePass(desc);
            }
            pass ??= encoder().beginComputePass();
            return passStandIn;
          };
        }
        return (...a: unknown[]) => {
          closePass();
          const e = encoder();
          return (e[method] as (...x: unknown[]) => unknown).apply(e, a);
        };
      },
    }));
  }
  queue.submit = (cbs: unknown[]) => {
    for (const cb of cbs) {
      if (cb === RECORDED) recorded++;
      else {
        if (shared) flush(); // recorded outside the shared encoder, after what is in it
        pending.push(cb);
      }
    }
    commandBuffers += cbs.length;
    sinceSubmit = new Set();
    if (pending.length + recorded >= maxPending) flush();
    else if (!scheduled) {
      // whatever is still held back when the caller next yields to the event loop goes out then
      scheduled = true;
      setImmediate(() => {
        scheduled = false;
        flush();
      });
    }
  };
  const lastSmall = new WeakMap<object, Uint8Array>();
  let skipped = 0;
  let dedupeWrites = true;
  queue.writeBuffer = (buffer: object, ...rest: unknown[]) => {
    const [offset, data] = rest as [number, ArrayBufferView | ArrayBuffer];
    if (dedupeWrites && rest.length === 2 && offset === 0 && (ArrayBuffer.isView(data) || data instanceof ArrayBuffer) && data.byteLength <= 256) {
      // gpu.js writes its params as an ArrayBuffer, arguments as Float32Arrays
      const bytes = ArrayBuffer.isView(data) ? new Uint8Array(data.buffer, data.byteOffset, data.byteLength) : new Uint8Array(data);
      const prev = lastSmall.get(buffer);
      if (prev && prev.length === bytes.length && prev.every((v, i) => v === bytes[i])) {
        // not written, but the call being recorded reads these bytes: a later write of other bytes must
        // first submit it, as if this write had happened
        skipped++;
        written.add(buffer);
        sinceSubmit.add(buffer);
        return;
      }
      lastSmall.set(buffer, bytes.slice());
    } else lastSmall.delete(buffer);
    if (written.has(buffer)) flush();
    written.add(buffer);
    sinceSubmit.add(buffer);
    writeBuffer(buffer, ...rest);
  };
  queue.onSubmittedWorkDone = () => {
    flush();
    return done();
  };
  flushers.add(flush);
  patchBufferPrototype();
  const b: SubmitBatcher = {
    get sharePasses() { return sharePasses; },
    set sharePasses(v: boolean) { sharePasses = v; },
    get commandBuffers() { return commandBuffers; },
    get submits() { return submits; },
    get skippedWrites() { return skipped; },
    get dedupeWrites() { return dedupeWrites; },
    set dedupeWrites(v: boolean) { dedupeWrites = v; },
    flush,
  };
  batchers.set(device, b);
  return b;
}
