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
// Each gpu.js call writes its buffers and then submits, so every held-back command buffer's writes
// happened in the current batch and are tracked. Relies on gpu.js 2.24.1's order in _runInternal
// (writeBuffer of arguments and params, then one submit) and readBufferResult (submit, then mapAsync).

interface Queue {
  submit(cbs: unknown[]): void;
  writeBuffer(buffer: object, ...rest: unknown[]): void;
  onSubmittedWorkDone(): Promise<void>;
}

export interface SubmitBatcher {
  /** command buffers submitted through the batcher */
  readonly commandBuffers: number;
  /** real queue.submit calls made */
  readonly submits: number;
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

export function installSubmitBatcher(device: { queue: Queue }, maxPending = 64): SubmitBatcher {
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
  const flush = () => {
    written = new Set(sinceSubmit);
    if (pending.length === 0) return;
    const p = pending;
    pending = [];
    submits++;
    submit(p);
  };
  queue.submit = (cbs: unknown[]) => {
    for (const cb of cbs) pending.push(cb);
    commandBuffers += cbs.length;
    sinceSubmit = new Set();
    if (pending.length >= maxPending) flush();
    else if (!scheduled) {
      // whatever is still held back when the caller next yields to the event loop goes out then
      scheduled = true;
      setImmediate(() => {
        scheduled = false;
        flush();
      });
    }
  };
  queue.writeBuffer = (buffer: object, ...rest: unknown[]) => {
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
    get commandBuffers() { return commandBuffers; },
    get submits() { return submits; },
    flush,
  };
  batchers.set(device, b);
  return b;
}
