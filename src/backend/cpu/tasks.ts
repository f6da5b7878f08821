// The work items the CPU backend splits across threads: a row range of a matrix product, or a
// channel range of the selective scan. The same function runs them on the main thread and in workers.
import type { gemmABt as GemmABt } from '../../../kernels/linear/cpu.js';
import type { selectiveScan as SelectiveScan } from '../../../kernels/selective-scan/cpu.js';

export interface LinearTask {
  kind: 'linear';
  x: Float32Array; // (L, IN)
  W: Float32Array; // (OUT, IN) — already sliced to the rows wanted
  out: Float32Array; // (L, OUT)
  IN: number;
  OUT: number;
  t0: number;
  t1: number;
}

export interface ScanTask {
  kind: 'scan';
  L: number;
  ED: number;
  N: number;
  u: Float32Array;
  deltaRaw: Float32Array;
  A: Float32Array;
  B: Float32Array;
  C: Float32Array;
  D: Float32Array;
  z: Float32Array;
  deltaBias: Float32Array;
  h0: Float32Array;
  out: Float32Array; // (L, ED)
  hL: Float32Array; // (ED, N)
  d0: number;
  d1: number;
}

export type WorkerTask = LinearTask | ScanTask;

export function runTask(task: WorkerTask, k: { gemmABt: typeof GemmABt; selectiveScan: typeof SelectiveScan }): void {
  if (task.kind === 'linear') {
    const { x, W, out, IN, OUT, t0, t1 } = task;
    if (t1 > t0) k.gemmABt(x.subarray(t0 * IN, t1 * IN), W, out.subarray(t0 * OUT, t1 * OUT), t1 - t0, OUT, IN);
  } else {
    const { d0, d1, out, hL, ...args } = task;
    if (d1 > d0) k.selectiveScan(args, { d0, d1, out, hL });
  }
}
