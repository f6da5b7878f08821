// Worker thread of the CPU gradient engine (grad-cpu.ts, makeGradientsCpu with threads 2): computes
// the float64 loss and gradient sums of the windows it is sent (lossAndGrads64) and posts them back,
// transferring the gradient buffers. Not a pool and not a training loop: one job at a time.
import { parentPort } from 'node:worker_threads';
import { lossAndGrads64, type WorkerJob } from './grad-cpu.js';

parentPort!.on('message', (job: WorkerJob) => {
  try {
    const result = lossAndGrads64(job.config, job.weights, { ids: job.ids, B: job.B, L: job.L }, job.total, job.options);
    const buffers = new Set<ArrayBuffer>(); // a Set: a buffer listed twice would make postMessage throw
    const collect = (a: unknown): void => {
      if (a instanceof Float64Array) buffers.add(a.buffer as ArrayBuffer);
      else if (a && typeof a === 'object') for (const v of Object.values(a)) collect(v);
    };
    collect(result.g64);
    parentPort!.postMessage({ ok: true, result }, [...buffers]);
  } catch (err) {
    parentPort!.postMessage({ ok: false, message: (err as Error).message });
  }
});
