// The per-kernel GPU timer (src/backend/gpujs/pass-timer.ts): every compute pass gpu.js begins while
// the timer runs gets a timestamp pair and a label (scope: kernel function); passes outside it and
// passes that already carry timestamps are left alone. lavapipe exposes 'timestamp-query'; where no
// adapter (or no such feature) answers, the test says why and skips.
import test from 'ava';
import { deviceBench } from '../../kernels/bench-util.js';
import { kernelSettings } from '../../kernels/gpujs-types.js';
import { probeWebGpu, shutdownGpu, webgpuPassTimer } from '../../src/backend/gpu-runtime.js';

const probe = await probeWebGpu();
const why = !probe.ok ? probe.reason : undefined;
if (why) console.log(`pass-timer test skipped: ${why}`);
test.after.always(async () => { await shutdownGpu(); });

function doubleKernel(this: { thread: { x: number } }, v: number[]): number {
  return 2 * v[this.thread.x];
}
function sumKernel(this: { thread: { x: number }; constants: { K: number } }, v: number[]): number {
  let s = 0;
  for (let k = 0; k < this.constants.K; k++) s += v[(this.thread.x * this.constants.K + k) % 4096];
  return s;
}

(why ? test.skip : test)('pass timer: one labelled timestamp pair per kernel call while started, none outside', async (t) => {
  const { gpu } = await deviceBench('pass-timer test', true); // the device asks for 'timestamp-query'
  let timer;
  try {
    timer = await webgpuPassTimer();
  } catch (err) {
    t.log(`skipped: ${(err as Error).message}`);
    t.pass();
    return;
  }
  const dbl = gpu.createKernel(doubleKernel, { ...kernelSettings([4096], {}, {}, { pipeline: true, immutable: true }) });
  const sum = gpu.createKernel(sumKernel, { ...kernelSettings([4096], { K: 64 }, {}, { pipeline: true, immutable: true }) });
  const x = new Float32Array(4096).map((_, i) => i);
  const warm = await dbl(x); // outside the timer
  warm.delete();
  timer.start();
  timer.scope = 'first';
  const a = await dbl(x);
  const b = await sum(a);
  timer.scope = 'second';
  const c = await dbl(b);
  const got = await timer.stop();
  const after = await sum(c); // after stop: not recorded
  t.log(JSON.stringify(got));
  t.is(got.passes, 3);
  t.deepEqual(Object.keys(got.byLabel).sort(), ['first: doubleKernel', 'first: sumKernel', 'second: doubleKernel']);
  for (const v of Object.values(got.byLabel)) {
    t.is(v.passes, 1);
    t.true(v.ms >= 0 && v.ms < 1000);
  }
  t.true(got.spanMs >= got.busyMs - 1e-6, 'the span from first begin to last end holds every pass');
  // the results are unchanged by the timestamps
  const out = (await c.toArray()) as Float32Array;
  let want = 0;
  for (let k = 0; k < 64; k++) want += 2 * 2 * k;
  t.is(out[0], want);
  for (const h of [a, b, c, after]) h.delete();
  await t.throwsAsync(async () => { timer.start(); (await webgpuPassTimer()).start(); }, { message: /another timer/ });
  await timer.stop();
});
