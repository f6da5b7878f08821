// The submit batcher (src/backend/gpujs/submit-batcher.ts) on a stand-in queue that applies writes at
// once and runs command buffers when really submitted: every command buffer must see exactly the buffer
// contents it would have seen with one submit per call (gpu.js's order: write its buffers, then submit),
// and nothing may stay held back past a wait, a readback or a turn of the event loop.
import test from 'ava';
import { installSubmitBatcher } from '../../src/backend/gpujs/submit-batcher.js';
import { getGpu, probeWebGpu, shutdownGpu } from '../../src/backend/gpu-runtime.js';

const webgpu = await probeWebGpu();
if (!webgpu.ok) console.log(`submit batcher webgpu test skipped: ${webgpu.reason}`);
test.after.always(async () => { await shutdownGpu(); });

interface Cb { reads: Array<{ buf: object; want: number }> }

function fakeDevice() {
  const value = new Map<object, number>();
  const ran: Cb[] = [];
  let realSubmits = 0;
  const errors: string[] = [];
  const queue = {
    submit(cbs: Cb[]) {
      realSubmits++;
      for (const cb of cbs) {
        for (const r of cb.reads) if (value.get(r.buf) !== r.want) errors.push(`read ${value.get(r.buf)}, wanted ${r.want}`);
        ran.push(cb);
      }
    },
    writeBuffer(buf: object, v: number) { value.set(buf, v); },
    onSubmittedWorkDone() { return Promise.resolve(); },
  };
  return { device: { queue }, value, ran, errors, get realSubmits() { return realSubmits; } };
}

/** A gpu.js-like call: write the kernel's params (and maybe an argument), then submit one command buffer reading them. */
function call(q: { writeBuffer(b: object, v: number): void; submit(c: Cb[]): void }, bufs: object[], v: number): void {
  for (const b of bufs) q.writeBuffer(b, v);
  q.submit([{ reads: bufs.map((buf) => ({ buf, want: v })) }]);
}

test('submit batcher: command buffers see the writes made before them; repeated writes flush first', async (t) => {
  const f = fakeDevice();
  const b = installSubmitBatcher(f.device as never, 8);
  const q = f.device.queue as unknown as { writeBuffer(b: object, v: number): void; submit(c: Cb[]): void; onSubmittedWorkDone(): Promise<void> };
  const P1 = {}, P2 = {}, A = {};
  call(q, [P1], 1);
  call(q, [P2, A], 2);
  t.is(f.ran.length, 0, 'held back');
  call(q, [P1], 3); // P1 written again while call 1 is held: the batch goes out first
  t.is(f.ran.length, 2);
  call(q, [A, P2], 4); // the conflict flush happens at A's write; P2's write (same call) is tracked still
  call(q, [P2], 5);
  await q.onSubmittedWorkDone();
  t.is(f.ran.length, 5);
  t.deepEqual(f.errors, []);
  // maxPending: 8 calls on distinct buffers go out in one submit
  const before = f.realSubmits;
  for (let i = 0; i < 8; i++) call(q, [{}], 10 + i);
  t.is(f.realSubmits, before + 1);
  t.is(f.ran.length, 13);
  // one held call goes out when the event loop turns
  call(q, [{}], 99);
  t.is(f.ran.length, 13);
  await new Promise((r) => setImmediate(r));
  t.is(f.ran.length, 14);
  t.deepEqual(f.errors, []);
  t.is(b.commandBuffers, 14);
  t.true(b.submits < 14);
  t.is(installSubmitBatcher(f.device as never), b, 'installed once per device');
});

test('submit batcher: a write between a call\'s own writes and its submit never leaks into a held call', async (t) => {
  const f = fakeDevice();
  installSubmitBatcher(f.device as never, 64);
  const q = f.device.queue as unknown as { writeBuffer(b: object, v: number): void; submit(c: Cb[]): void; onSubmittedWorkDone(): Promise<void> };
  // random call patterns over a few shared buffers
  let seed = 7;
  const rnd = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32);
  const bufs = Array.from({ length: 5 }, () => ({}));
  for (let i = 0; i < 500; i++) {
    const used = bufs.filter(() => rnd() < 0.4);
    call(q, used.length ? used : [bufs[0]], i);
  }
  await q.onSubmittedWorkDone();
  t.is(f.ran.length, 500);
  t.deepEqual(f.errors, []);
});

// sharePasses on a real device: gpu.js kernels recorded into one shared encoder and pass give what they
// give one command buffer each — a dependent chain, a kernel called again with a new uploaded argument
// (its argument and params buffers rewritten while earlier calls are held), readbacks in the middle,
// and sharing switched off and on mid-chain.
(webgpu.ok ? test : test.skip)('submit batcher, sharePasses: kernels in one shared pass compute what they compute one command buffer each', async (t) => {
  const gpu = await getGpu('webgpu');
  function axpb(this: { thread: { x: number } }, v: number[], w: number[]): number {
    return 0.5 * v[this.thread.x] + w[this.thread.x % 7];
  }
  const n = 3001;
  const k = gpu.createKernel(axpb, { output: [n], pipeline: true, immutable: true });
  const x = new Float32Array(n).map((_, i) => (i % 13) - 6);
  const ws = [1, 2, 3, 4].map((s) => new Float32Array(7).map((_, i) => s * 0.1 * i));
  async function chain(): Promise<Float32Array[]> {
    const reads: Float32Array[] = [];
    let h = await k(x, ws[0]);
    for (let i = 1; i < 12; i++) {
      const next = await k(h, ws[i % 4]); // the small w argument is re-uploaded every call
      h.delete();
      h = next;
      if (i % 5 === 0) reads.push((await h.toArray()) as Float32Array); // readback mid-chain
    }
    reads.push((await h.toArray()) as Float32Array);
    h.delete();
    return reads;
  }
  const first = await k(x, ws[0]); // the device exists once a kernel ran
  const device = (first as unknown as { context: { device: never } }).context.device;
  first.delete();
  const b = installSubmitBatcher(device);
  b.sharePasses = false;
  const want = await chain();
  b.sharePasses = true;
  const before = b.submits;
  const got = await chain();
  t.true(b.submits - before < 12 * 2, `shared: ${b.submits - before} real submits for 12 calls and 3 readbacks`);
  // sharing switched off and on inside a chain
  const mixed: Float32Array[] = [];
  let h = await k(x, ws[0]);
  for (let i = 1; i < 12; i++) {
    b.sharePasses = i % 3 !== 0;
    const next = await k(h, ws[i % 4]);
    h.delete();
    h = next;
    if (i % 5 === 0) mixed.push((await h.toArray()) as Float32Array);
  }
  mixed.push((await h.toArray()) as Float32Array);
  h.delete();
  b.sharePasses = false;
  t.deepEqual(got.map((a) => Array.from(a)), want.map((a) => Array.from(a)));
  t.deepEqual(mixed.map((a) => Array.from(a)), want.map((a) => Array.from(a)));
});

// gpu.js rewrites every kernel's params on every call; a small write of the bytes the buffer already
// holds is dropped (no write, no flush), anything else still goes through in order.
test('submit batcher: a small write of the bytes a buffer holds is dropped, a changed one is not', async (t) => {
  const value = new Map<object, string>();
  const ran: string[] = [];
  const errors: string[] = [];
  let writes = 0;
  const device = {
    queue: {
      submit(cbs: Array<{ reads: Array<{ buf: object; want: string }> }>) {
        for (const cb of cbs) {
          for (const r of cb.reads) if (value.get(r.buf) !== r.want) errors.push(`read ${value.get(r.buf)}, wanted ${r.want}`);
          ran.push(cb.reads.map((r) => r.want).join());
        }
      },
      writeBuffer(buf: object, offset: number, data: ArrayBuffer | ArrayBufferView) {
        writes++;
        const bytes = ArrayBuffer.isView(data) ? new Uint8Array(data.buffer, data.byteOffset, data.byteLength) : new Uint8Array(data);
        value.set(buf, `${offset}:${bytes.join('.')}`);
      },
      onSubmittedWorkDone() { return Promise.resolve(); },
    },
  };
  const b = installSubmitBatcher(device as never, 64);
  const q = device.queue;
  const P = {}, Q = {};
  const params = (x: number) => { const m = new ArrayBuffer(16); new Uint32Array(m).set([x, 7, 1, 1]); return m; };
  const want = (x: number) => `0:${new Uint8Array(params(x)).join('.')}`;
  const callP = (buf: object, x: number) => { q.writeBuffer(buf, 0, params(x)); q.submit([{ reads: [{ buf, want: want(x) }] }]); };
  callP(P, 1);
  callP(P, 1); // same bytes: dropped, and the first call stays held (no flush)
  callP(Q, 1);
  t.is(writes, 2);
  t.is(b.skippedWrites, 1);
  t.is(ran.length, 0, 'nothing forced out');
  callP(P, 2); // changed bytes: written, after the held calls went out
  t.is(writes, 3);
  t.is(ran.length, 3);
  callP(P, 2);
  callP(P, 1);
  // a Float32Array argument of the same values is dropped too; a larger or offset write always goes through
  q.writeBuffer(Q, 0, new Float32Array([1, 2]));
  q.writeBuffer(Q, 0, new Float32Array([1, 2]));
  q.writeBuffer(Q, 4, new Float32Array([1, 2]));
  q.writeBuffer(Q, 0, new Float32Array(100));
  q.writeBuffer(Q, 0, new Float32Array(100));
  t.is(writes, 8);
  await q.onSubmittedWorkDone();
  t.deepEqual(errors, []);
  t.is(ran.length, 6);
  // a dropped write still holds its call's bytes: after a flush, a call whose write is dropped (the buffer
  // kept the bytes) is held; a later call writing other bytes must submit it first
  callP(P, 1); // P holds params(1) already: dropped, held
  callP(P, 3); // other bytes: the held call goes out first, reading params(1)
  await q.onSubmittedWorkDone();
  t.deepEqual(errors, []);
  // random call patterns over a few buffers and a few byte patterns, so that many writes are dropped
  let seed = 11;
  const rnd = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32);
  const bufs = Array.from({ length: 4 }, () => ({}));
  for (let i = 0; i < 600; i++) {
    const used = bufs.filter(() => rnd() < 0.5);
    const xs = (used.length ? used : [bufs[0]]).map((buf) => ({ buf, x: Math.floor(rnd() * 3) }));
    for (const { buf, x } of xs) q.writeBuffer(buf, 0, params(x));
    q.submit([{ reads: xs.map(({ buf, x }) => ({ buf, want: want(x) })) }]);
    if (rnd() < 0.05) await q.onSubmittedWorkDone();
  }
  await q.onSubmittedWorkDone();
  t.deepEqual(errors, []);
  t.true(b.skippedWrites > 100);
  b.dedupeWrites = false; // benchmarks: every write goes to the queue
  const w0 = writes;
  callP(P, 1);
  callP(P, 1);
  t.is(writes, w0 + 2);
});
